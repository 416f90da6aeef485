// Lint rules that matter here: promises are never left floating (a lost rejection is a lost event), and
// workflow code stays deterministic (no Node built-ins, no I/O, no wall clock outside the SDK's).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.cache/**', '.test-logs/**', 'drizzle/**', 'bench/results.json', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.mjs', '.dependency-cruiser.cjs', 'test/helpers/capture-output.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() promises are awaited by the runner itself.
        { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' }] },
      ],
      // Fastify handlers and activity functions are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    // Plain JavaScript (loaded by processes that may not have tsx): not type-checked.
    files: ['eslint.config.mjs', 'test/helpers/capture-output.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // dependency-cruiser reads a CommonJS config.
    files: ['.dependency-cruiser.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } },
  },
  {
    // One module reads and writes the entity tables and sync_state: the entity store (docs/architecture.md).
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    ignores: ['src/store/**', 'src/db/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/db/schema'],
              importNames: [
                'economicCustomers',
                'economicProjects',
                'economicOrders',
                'economicQuotes',
                'economicDraftInvoices',
                'economicBookedInvoices',
                'economicDocumentLines',
                'syncState',
              ],
              message: 'The entity tables and sync_state belong to the entity store (src/store/entity-store.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox and is replayed: keep I/O and clocks out.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins (determinism).' })),
            { name: 'postgres', message: 'No I/O in workflows: do it in an activity.' },
            { name: 'drizzle-orm', message: 'No I/O in workflows: do it in an activity.' },
            { name: 'fastify', message: 'No I/O in workflows.' },
            { name: '@temporalio/client', message: 'Use @temporalio/workflow APIs inside workflows.' },
            { name: '@temporalio/activity', message: 'Activities run outside the workflow sandbox.' },
          ],
          patterns: [
            { regex: '^(\\.\\./)+src/(?!shared/)', message: 'Workflows may import only src/shared (pure code) and types.', allowTypeImports: true },
            { group: ['../activities', '../activities/*'], message: 'Import only types of activities (proxyActivities).', allowTypeImports: true },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No process in workflows.' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'fetch', message: 'No I/O in workflows.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use the SDK-seeded Math.random only via @temporalio/workflow uuid4 or keep it out.' },
      ],
    },
  },
);
