#!/usr/bin/env node
// The installed `economic-sync` command: runs the TypeScript CLI through tsx (no build step).
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const root = path.resolve(__dirname, '..');
const result = spawnSync(process.execPath, ['--import', require.resolve('tsx', { paths: [root] }), path.join(root, 'src', 'cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
