// The import rules of docs/architecture.md, checked by `npm run lint` (dependency-cruiser). Dependencies
// point one way: an import may point down the layers below, or sideways within a layer; no circle.
//
//   composition roots   src/main.ts src/cli.ts src/service.ts src/worker.ts (may import anything)
//   interfaces          src/http/ src/cli/
//   ingest              src/ingest/
//   Temporal client     src/temporal/ (plus the workflows' public names in src/shared/)
//   workflows           workflows/ (only src/shared/ and types of activities)
//   activities          activities/
//   storage             src/store/ src/access/ src/db/
//   bottom (pure)       src/economic/ src/shared/ src/util/ src/sync/ src/secrets/ src/config.ts src/logger.ts
const ROOTS = '^src/(main|cli|service|worker)\\.ts$';
const INTERFACES = '^src/(http|cli)/';
const INGEST = '^src/ingest/';
const TEMPORAL = '^src/temporal/';
const WORKFLOWS = '^workflows/';
const ACTIVITIES = '^activities/';
const STORAGE = '^src/(store|access|db)/';
const BOTTOM = ['^src/(economic|shared|util|sync|secrets)/', '^src/(config|logger)\\.ts$'];

/** A rule forbidding imports from a layer to any layer above it. */
const notUp = (name, from, above) => ({
  name,
  severity: 'error',
  comment: `${name}: dependencies point down the layers of docs/architecture.md`,
  from: { path: from },
  to: { path: above },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports has no bottom: nothing in it can be understood or tested alone.',
      from: {},
      to: { circular: true },
    },
    {
      ...notUp('not-to-composition-roots', '^src/', ROOTS),
      // Roots compose each other (main starts the service, the service runs the worker).
      from: { path: '^src/', pathNot: ROOTS },
    },
    notUp('ingest-not-up', INGEST, [INTERFACES]),
    notUp('temporal-client-not-up', TEMPORAL, [INTERFACES, INGEST]),
    notUp('activities-not-up', ACTIVITIES, [INTERFACES, INGEST, TEMPORAL, WORKFLOWS]),
    notUp('storage-not-up', STORAGE, [INTERFACES, INGEST, TEMPORAL, WORKFLOWS, ACTIVITIES]),
    notUp('bottom-not-up', BOTTOM, [INTERFACES, INGEST, TEMPORAL, WORKFLOWS, ACTIVITIES, STORAGE]),
    {
      name: 'workflows-import-only-shared',
      severity: 'error',
      comment: 'Workflow code is deterministic and bundled alone: it imports src/shared/ and nothing else of src/.',
      from: { path: WORKFLOWS },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'workflows-import-only-types-of-activities',
      severity: 'error',
      comment: 'Workflows call activities through proxyActivities<typeof ...>: a type, never the code.',
      from: { path: WORKFLOWS },
      to: { path: ACTIVITIES, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'clients-import-only-types-of-workflows',
      severity: 'error',
      comment: 'Clients start and signal workflows by type name (src/shared/); workflow code stays out of them.',
      from: { pathNot: '^(workflows|test)/' },
      to: { path: WORKFLOWS, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'activities-say-what-the-store-says-how',
      severity: 'error',
      comment: 'Activities and workflows reach the tables through the store (src/store/), never SQL of their own.',
      from: { path: [ACTIVITIES, WORKFLOWS] },
      to: { path: ['^src/db/schema\\.ts$', 'node_modules/drizzle-orm/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count as dependencies too (a circle through types is still a circle), labelled
    // `type-only` so the rules above can tell them apart.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
  },
};
