#!/usr/bin/env node
// The installed `economic-sync` command (docs/cli.md). After `npm run build` it runs the compiled CLI in
// this process (no tsx in production images), so in a development checkout rebuild after changing the
// sources, or use `npm run cli`; without a build it runs the TypeScript CLI through tsx, a development
// dependency.
const { existsSync } = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const compiled = path.join(root, 'dist', 'src', 'cli.js');
if (existsSync(compiled)) {
  require(compiled);
} else {
  const { spawnSync } = require('node:child_process');
  const result = spawnSync(process.execPath, ['--import', require.resolve('tsx', { paths: [root] }), path.join(root, 'src', 'cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
