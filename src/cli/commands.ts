// Imports every command module so its handlers register (src/cli/registry.ts).
import './reconcile';
import './status';
