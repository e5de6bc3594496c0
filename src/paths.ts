// Where the project's files are, whether this module runs compiled (dist/src/...) or as source under vitest.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('kms-engine: cannot find the project root');
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
/** Workers always run compiled: Node 20 cannot load a .ts file as a worker. */
export const CRYPTO_WORKER_FILE = join(PROJECT_ROOT, 'dist', 'workers', 'crypto.worker.js');
