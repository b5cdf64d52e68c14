#!/usr/bin/env node
// The `mat` command as npm links it (node_modules/.bin/mat, so `npx mat` from the project root). This file
// exists before the TypeScript build, which npm needs to link it; the command itself is dist/bin.js.
const path = require('path');
const fs = require('fs');

const built = path.join(__dirname, '..', 'dist', 'bin.js');
if (!fs.existsSync(built)) {
  process.stderr.write(
    `error: ${built} is not built yet: run \`npm run build\` (or \`npm install\`) first\n`,
  );
  process.exit(1);
}
require(built);
