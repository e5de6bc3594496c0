// Scheduled work (src/keys/scheduler.ts runDueWork: deletions after the waiting period, automatic rotations)
// must run exactly once across the cluster. Each pass runs under a PostgreSQL session advisory lock, taken
// with pg_try_advisory_lock: a node that finds it held skips its pass (another node is doing the work), and a
// node that dies mid-pass loses its session, which frees the lock. Passes re-read due keys from the store,
// so a later pass on any node never redoes a finished one. With the embedded store there is one node.
import type pg from 'pg';
import type { Keyring } from '../keys/keyring.js';
import { runDueWork, type ScheduledEvent } from '../keys/scheduler.js';
import type { CryptoPool } from '../pool/crypto-pool.js';
import { ADVISORY_LOCKS } from '../store/migrations/index.js';

export interface WorkLock {
  /** Runs `work` if no other node is running scheduled work now; `ran: false` when another node holds it. */
  runExclusive<T>(work: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }>;
}

/** One node, nothing to coordinate with. */
export const singleNodeLock: WorkLock = {
  async runExclusive(work) {
    return { ran: true, result: await work() };
  },
};

export class PostgresWorkLock implements WorkLock {
  constructor(private readonly pool: pg.Pool, private readonly lockKey: number = ADVISORY_LOCKS.scheduledWork) {}

  async runExclusive<T>(work: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [this.lockKey]);
      if (!rows[0]?.locked) return { ran: false };
      try {
        return { ran: true, result: await work() };
      } finally {
        try {
          await client.query('SELECT pg_advisory_unlock($1)', [this.lockKey]);
        } catch (error) {
          // Could not unlock: destroy the session so the lock cannot outlive this pass.
          broken = error instanceof Error ? error : new Error('unlock failed');
        }
      }
    } finally {
      client.release(broken);
    }
  }
}

/** What a failed pass says of its cause: the AWS error (DependencyTimeoutException) or the driver's code (ECONNREFUSED). */
function failureReason(error: unknown): string {
  if (!(error instanceof Error)) return 'error';
  const { code } = error as { code?: unknown };
  return typeof code === 'string' ? code : error.name;
}

/**
 * startScheduler's cluster-aware twin: every `intervalMs`, one pass of due work if this node gets the lock.
 * Passes that fail (the store unreachable) are logged once, with their cause, and once more when one runs again:
 * an outage is two lines, not one every pass.
 */
export function startScheduledWork(lock: WorkLock, keyring: Keyring, pool: CryptoPool, intervalMs: number,
  onEvent: (event: ScheduledEvent) => void | Promise<void>, log: (line: string) => void = (line) => console.error(line)): () => void {
  let running = false;
  let failing = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    lock.runExclusive(() => runDueWork(keyring, pool, Date.now() / 1000, onEvent))
      .then(() => {
        if (failing) log('kms-engine: scheduled work (deletions, rotations) runs again');
        failing = false;
      }, (error: unknown) => {
        if (!failing) {
          log(`kms-engine: scheduled work (deletions, rotations) failed (${failureReason(error)}); retrying every ${intervalMs / 1000} s`);
        }
        failing = true;
      })
      .finally(() => { running = false; });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
