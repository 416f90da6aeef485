// `npm run build`: the production build (docs/production.md). Compiles src/, workflows/, activities/ and
// scripts/ to JavaScript under dist/ (tsconfig.build.json) and prebuilds the workflow bundle
// (dist/workflow-bundle.js) that the compiled worker loads instead of bundling at every start.
// Starts from an empty dist/ so no file of a removed module lingers in the image.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/project-root';
import { bundleWorkflows, PREBUILT_WORKFLOW_BUNDLE } from '../src/worker';

async function main(): Promise<void> {
  const started = performance.now();
  const dist = path.join(PROJECT_ROOT, 'dist');
  rmSync(dist, { recursive: true, force: true });

  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(PROJECT_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status ?? tsc.signal})`);

  const { code, sourceMap } = await bundleWorkflows();
  writeFileSync(PREBUILT_WORKFLOW_BUNDLE, code);
  writeFileSync(`${PREBUILT_WORKFLOW_BUNDLE}.map`, sourceMap);
  console.log(`built ${path.relative(PROJECT_ROOT, dist)}/ (entry: node dist/src/main.js) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(`build failed: ${(err as Error).message}`);
  process.exit(1);
});
