// `npm run temporal:cli`: makes sure a Temporal CLI binary is available (see src/temporal/cli-binary.ts).
// Instant once cached; the first run may build it with Go. Fails when there is none and none can be built:
// the embedded default, the tests and the benchmarks all launch the dev server from it.
import { resolveTemporalCli } from '../src/temporal/cli-binary';

resolveTemporalCli()
  .then((cli) => {
    if (!cli) {
      console.error('No Temporal CLI found and none could be built: install Go, or set TEMPORAL_CLI_PATH to a `temporal` binary.');
      process.exit(1);
    }
    console.log(`Temporal CLI: ${cli.path} (${cli.source})`);
  })
  .catch((err: unknown) => {
    console.error(`Temporal CLI: ${(err as Error).message}`);
    process.exit(1);
  });
