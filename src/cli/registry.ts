// Every CLI command's handler, by name. The commander definitions (src/cli.ts) only parse arguments;
// handlers run here, in the CLI process or inside the running service (embedded database).
import type { CommandHandler } from './context';

export const commandHandlers: Record<string, CommandHandler> = {};

export function registerCommand(name: string, handler: CommandHandler): void {
  commandHandlers[name] = handler;
}
