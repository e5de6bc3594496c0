// `kms-engine backup DIR`: a consistent copy of the embedded store's data directory while the server runs.
// Copying the directory with cp, rsync or tar is not one: the SQLite file and its -wal are read at different
// moments (a WAL checkpoint between them loses or tears committed writes), and the audit log is read before its
// checkpoint file (`audit.jsonl.head`, next in name order), so under load the copied checkpoint names records
// the copied log does not hold and the restored engine refuses to start ("records were removed").
//
// Here the checkpoint is copied first and the log after it: the log only grows, so the copy holds at least every
// record the copied checkpoint names (a line cut mid-write at the end is what a start after a crash truncates and
// records). The store is copied with SQLite's online backup API, one consistent snapshot however busy the server is.
// Restore: stop the engine and point KMS_DATA_DIR at the copy (or move its files into place).
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { checkpointPath } from './audit/checkpoint.js';
import { usage } from './cli-usage.js';
import { ConfigError, loadConfig } from './config.js';

const BACKUP_USAGE = 'usage: kms-engine backup DIR   (DIR must not exist; the store, audit log and root key file are copied into it)';

export async function runBackupCommand(args: readonly string[]): Promise<number> {
  if (args.length !== 1 || args[0]!.startsWith('-')) return usage(BACKUP_USAGE, args);
  const config = loadConfig();
  if (config.store !== 'sqlite') {
    throw new ConfigError('backup copies the embedded SQLite store; back a postgres:// KMS_STORE up with PostgreSQL\'s own tools');
  }
  const target = resolve(args[0]!);
  if (existsSync(target)) throw new ConfigError(`backup: ${target} exists; name a directory to create`);
  const store = join(config.dataDir, 'kms.sqlite');
  if (!existsSync(store)) throw new ConfigError(`backup: KMS_DATA_DIR ${config.dataDir} holds no store (kms.sqlite)`);
  mkdirSync(target, { recursive: true, mode: 0o700 });

  // The checkpoint before its log (see above); then the store, whose snapshot is at least as new as the log copy.
  for (const log of auditLogs(config.auditLog)) {
    copyIfPresent(checkpointPath(log), join(target, basename(checkpointPath(log))));
    copyIfPresent(log, join(target, basename(log)));
  }
  const copy = join(target, 'kms.sqlite');
  closeSync(openSync(copy, 'wx', 0o600)); // SQLite would make it 0644
  const db = new Database(store, { readonly: true, fileMustExist: true });
  try {
    await db.backup(copy);
  } finally {
    db.close();
  }
  // A root key in a PKCS#11 token (KMS_ROOT_KEY) stays there: the copy is unusable without that token.
  if (config.rootKeyUri === undefined) copyIfPresent(config.rootKeyFile, join(target, 'root.key'));
  for (const name of ['credentials', 'node-id']) copyIfPresent(join(config.dataDir, name), join(target, name));
  console.log(`kms-engine: backed up ${config.dataDir} to ${target}`);
  return 0;
}

/** The audit log and, with KMS_FRONTENDS above 1, each front end's own (`audit.jsonl.1`, `audit.jsonl.2`, ...). */
function auditLogs(path: string): string[] {
  const prefix = `${basename(path)}.`;
  const frontEnd = (name: string) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length));
  const directory = dirname(path);
  const logs = existsSync(directory) ? readdirSync(directory).filter(frontEnd) : [];
  return [path, ...logs.map((name) => join(directory, name))];
}

/** Copies keep the owner-only mode: the files hold wrapped material, secrets and the root key. */
function copyIfPresent(from: string, to: string): void {
  if (!existsSync(from)) return;
  copyFileSync(from, to);
  chmodSync(to, 0o600);
}
