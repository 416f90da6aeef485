// Directories that hold secrets (DATA_DIR: the generated secrets key, the admin socket, the embedded
// database) are the owner's alone: mode 0700 whatever the umask, and tightened when an earlier version
// or a hand-made directory left them open to other local users.
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';

export interface PrivateDirectory {
  created: boolean;
  /** It existed with group or other access and was set to 0700. */
  tightened: boolean;
  /** It exists with group or other access and belongs to another user, so it was left as it is. */
  open: boolean;
}

export function ensurePrivateDirectory(dir: string): PrivateDirectory {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The umask can only narrow the mode; chmod states it exactly.
    chmodSync(dir, 0o700);
    return { created: true, tightened: false, open: false };
  }
  const stat = statSync(dir);
  if ((stat.mode & 0o077) === 0) return { created: false, tightened: false, open: false };
  if (typeof process.getuid === 'function' && stat.uid === process.getuid()) {
    chmodSync(dir, 0o700);
    return { created: false, tightened: true, open: false };
  }
  return { created: false, tightened: false, open: true };
}
