// `mkdir -p` without Node's endless loop. Node 20's mkdir with { recursive: true } spins forever when mkdir(2)
// answers ENOENT for a path whose parent exists (e.g. /proc/nope: the parent is there, the child can never be
// made): it goes up to the parent, finds it, comes back down and fails again. A server told
// KMS_DATA_DIR=/proc/nope then never started and never said why. This walks up once and fails with the error.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathError } from './config.js';

/** Creates `path` and any missing parents (each with `mode`); a directory that exists already is fine. */
export function makeDirectory(path: string, mode?: number): void {
  try {
    mkdirSync(path, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(path).isDirectory()) return;
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw error;
    makeDirectory(parent, mode);
    mkdirSync(path, { mode }); // the parent exists now: a second ENOENT is this path's own, and is thrown
  }
}

/** Creates KMS_DATA_DIR (mode 0700) at start; a failure is the one line naming the variable. */
export function makeDataDirectory(dataDir: string): void {
  try {
    makeDirectory(dataDir, 0o700);
  } catch (error) {
    throw pathError('KMS_DATA_DIR', dataDir, error);
  }
}
