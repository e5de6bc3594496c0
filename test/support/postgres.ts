// A throwaway PostgreSQL for tests: initdb into a temp dir (as the `postgres` user when running as root, since
// PostgreSQL refuses to run as root), listening on a free loopback port with its unix socket in the temp dir.
// fsync is off: these instances exist for one test file, and a clean restart (pg_ctl restart -m fast) still
// flushes everything.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface TestPostgres {
  /** postgres:// URL of the `postgres` database as the `postgres` superuser (trust authentication). */
  url: string;
  port: number;
  /** Clean shutdown then start on the same port: connections drop, data stays. */
  restart(): Promise<void>;
  /** Stops the server (fast shutdown); `start()` brings it back on the same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes its directory. */
  remove(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory (Debian keeps each major under /usr/lib/postgresql/N). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const dir = join(root, version, 'bin');
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/initdb): npm test installs it');
}

/** A loopback TCP port nothing listens on right now (also used by test/support/redis.ts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const isRoot = () => process.getuid?.() === 0;

function postgresUserIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Runs a PostgreSQL binary as the postgres user when we are root, else as ourselves. */
function runAsOwner(binary: string, args: string[]): string {
  const [command, fullArgs] = isRoot() ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  return execFileSync(command, fullArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const root = mkdtempSync(join(tmpdir(), 'kms-engine-pg-'));
  chmodSync(root, 0o755);
  if (isRoot()) {
    const { uid, gid } = postgresUserIds();
    chownSync(root, uid, gid);
  }
  const dataDir = join(root, 'data');
  runAsOwner(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const serverOptions = [
    `-p ${port}`, `-k ${root}`, `-c listen_addresses=127.0.0.1`, '-c fsync=off', '-c full_page_writes=off',
    '-c max_connections=200', '-c shared_buffers=32MB',
  ].join(' ');
  const pgCtl = (...args: string[]) => runAsOwner(join(bin, 'pg_ctl'), ['-D', dataDir, '-l', join(root, 'log'), '-w', '-t', '30', ...args]);
  const start = async () => { pgCtl('-o', serverOptions, 'start'); };
  await start();
  let removed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    restart: async () => { pgCtl('-m', 'fast', '-o', serverOptions, 'restart'); },
    halt: async () => { pgCtl('-m', 'fast', 'stop'); },
    start,
    async remove() {
      if (removed) return;
      removed = true;
      try { pgCtl('-m', 'immediate', 'stop'); } catch { /* already stopped */ }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
