#!/usr/bin/env node
/**
 * Builds the C++ addon with node-gyp: `node scripts/build-addon.js [--verbose]` (runs on `npm install`).
 *
 * Never fails the install: without a compiler, Python or Node headers it prints one warning line and exits 0,
 * and registerNativeBackend() then returns false so callers fall back to the wasm or cpu backend.
 * Set MAT_NATIVE_SKIP_BUILD=1 to skip the build.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const pkgDir = path.resolve(__dirname, '..');
const verbose = process.argv.includes('--verbose');

/** node-gyp: the one npm passes to install scripts, else npm's bundled copy, else one on the module path. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package: the other candidates remain
  }
  return candidates.find((p) => p && fs.existsSync(p));
}

/** Local Node headers (e.g. Debian's /usr/include/node) so that node-gyp never tries to download them. */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function main() {
  if (process.env.MAT_NATIVE_SKIP_BUILD === '1') {
    console.warn(
      '@mat/native: MAT_NATIVE_SKIP_BUILD=1, addon not built (the wasm/cpu backends will be used)',
    );
    return;
  }
  const gyp = findNodeGyp();
  if (!gyp) {
    console.warn('@mat/native: node-gyp not found, addon not built (the wasm/cpu backends will be used)');
    return;
  }
  const args = [gyp, 'rebuild'];
  const nodedir = findNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const res = spawnSync(process.execPath, args, {
    cwd: pkgDir,
    encoding: 'utf8',
    stdio: verbose ? 'inherit' : 'pipe',
  });
  if (res.status !== 0) {
    // The first compiler/make error says more than node-gyp's closing "not ok".
    const lines = `${res.stdout || ''}\n${res.stderr || ''}\n${res.error?.message || ''}`
      .split('\n')
      .map((l) => l.trim());
    const why =
      lines.find((l) => /error|not found|no such file/i.test(l) && !l.startsWith('gyp')) ||
      lines.filter(Boolean).pop() ||
      'unknown error';
    console.warn(`@mat/native: addon build failed (${why}); the wasm/cpu backends will be used`);
  }
}

main();
process.exit(0);
