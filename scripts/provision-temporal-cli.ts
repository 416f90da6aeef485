// `npm run temporal:cli`: makes sure a Temporal CLI binary is available (see src/temporal/cli-binary.ts).
// Instant once cached; the first run may build it with Go.
import { resolveTemporalCli } from '../src/temporal/cli-binary';

resolveTemporalCli()
  .then((cli) => {
    if (cli) {
      console.log(`Temporal CLI: ${cli.path} (${cli.source})`);
    } else {
      console.log('No Temporal CLI found or buildable; the Temporal SDK will download its dev server when needed.');
    }
  })
  .catch((err: unknown) => {
    console.error(`Temporal CLI: ${(err as Error).message}`);
    process.exit(1);
  });
