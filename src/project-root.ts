// Where the project's own files (drizzle/ migrations, the prebuilt workflow bundle, the tool cache) are,
// whether this module runs from the TypeScript sources (src/) or from the compiled build (dist/src/): the
// nearest directory above it that holds package.json. A fixed `../..` would point into dist/ once compiled.
import { existsSync } from 'node:fs';
import path from 'node:path';

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}: economic-sync must run from its project directory`);
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);

/** True when this code runs compiled (node dist/...), false from the sources (tsx, tests). */
export const RUNNING_COMPILED = __filename.endsWith('.js');
