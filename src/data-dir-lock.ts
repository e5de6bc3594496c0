// One server per KMS_DATA_DIR. Two servers started on one directory by mistake (two replicas given one volume)
// both appended to its audit log, each with its own hash chain, so `audit verify` found the log broken at the
// second server's first record; and neither heard the other's writes (a key one disabled, the other still used
// from its cache). The second server now stops at start instead.
//
// The lock is SQLite's own (fcntl) lock on a file of its own, held in exclusive mode for the life of the
// process: the kernel frees it when the process ends however it ends (SIGKILL, a crash), so no stale lock file
// ever needs clearing, and it holds across PID namespaces (two containers on one volume), where a PID file
// cannot tell a live server from a dead one. `seed`, `backup` and `rotate-root-key` do not take it: they may run
// beside a server (README).
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, pathError } from './config.js';

export const DATA_DIR_LOCK_FILE = 'serve.lock';

/** Held here, not only by the caller: a connection nothing refers to is closed when collected, and the lock with it. */
const held = new Set<Database.Database>();

/** Takes KMS_DATA_DIR (already made) for this process; the returned function lets it go (the process's end does too). */
export function lockDataDirectory(dataDir: string): () => void {
  const path = join(dataDir, DATA_DIR_LOCK_FILE);
  let db: Database.Database;
  try {
    closeSync(openSync(path, 'a', 0o600)); // made here so that SQLite does not make it with the umask's mode
    db = new Database(path, { timeout: 0 });
  } catch (error) {
    throw pathError('KMS_DATA_DIR', dataDir, error);
  }
  try {
    db.pragma('journal_mode = MEMORY'); // nothing to roll back: no serve.lock-journal beside it
    db.pragma('locking_mode = EXCLUSIVE');
    // A write transaction takes the exclusive lock; in exclusive locking mode it is kept after the commit.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new ConfigError(`KMS_DATA_DIR: ${dataDir} is in use by another kms-engine server (one server per data directory)`);
    }
    throw pathError('KMS_DATA_DIR', dataDir, error);
  }
  held.add(db);
  return () => {
    held.delete(db);
    db.close();
  };
}
