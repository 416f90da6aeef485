// Imports every command module so its handlers register (src/cli/registry.ts).
import './access';
import './reconcile';
import './retry-failed';
import './status';
