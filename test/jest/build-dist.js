/**
 * Global setup of the e2e project: rebuild packages/*\/dist from the sources (incremental, a few seconds when
 * nothing changed), so end-to-end tests always run the code under test.
 */
const { execFileSync } = require('child_process');
const path = require('path');

module.exports = async function buildDist() {
  const root = path.resolve(__dirname, '../..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b'], {
    cwd: root,
    stdio: 'inherit',
  });
};
