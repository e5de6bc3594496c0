// Hears about every key, alias and grant change other nodes commit to the shared PostgreSQL store, so this
// node's caches can drop what changed within a second (issue 7's bound).
//
// Two paths, so nothing is missed:
//  - LISTEN on a dedicated connection: the store's trigger NOTIFYs each change at commit (milliseconds);
//  - the change log table (kms_changes), read every POLL_MS and after the listener (re)connects: the bound
//    holds even when the listener's connection died silently or is reconnecting. Changes commit out of
//    sequence order when transactions overlap, so each read covers REORDER_WINDOW changes before the newest
//    seen; a change is delivered once, whichever path brings it first.
// If the log no longer holds everything since the last change seen (pruned during a long outage), the feed
// reports a gap and the caller drops every cache. If the log cannot be read for longer than staleAfterMs, the
// node may be cut off from a store the other nodes still write to: the feed reports it stale (on every failed
// read from then on), and the caller drops every cache, so nothing changed elsewhere is honoured past that bound.
import pg from 'pg';
import { CHANGES_CHANNEL } from '../store/migrations/index.js';
import { applicationName, connectionSettings } from '../store/postgres.js';

export interface StoreChange {
  seq: number;
  kind: 'key' | 'alias' | 'grant';
  /** The key id (key and grant changes) or the alias name (alias changes). */
  subject: string;
  /** application_name of the writing connection: kms-engine:<node id>#<process> (applicationName). */
  origin: string;
}

export interface ChangeFeedOptions {
  url: string;
  nodeId: string;
  /** The store's pool: catch-up reads and log pruning use it (the listener has its own connection). */
  pool: pg.Pool;
  onChange(change: StoreChange): void;
  /** Changes may have been missed: every cache must be dropped. */
  onGap(): void | Promise<void>;
  /** How long the log may go unread before the node's caches are no longer trusted (default: forever). */
  staleAfterMs?: number;
  /** The log has been unreadable for longer than staleAfterMs: drop every cache (the store cannot be read to list it). */
  onStale?(): void;
  log?: (line: string) => void;
}

const POLL_MS = 400;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;
const REORDER_WINDOW = 256;
const PRUNE_EVERY_MS = 60_000;
/** The log keeps an hour: a node away from PostgreSQL for longer drops all its caches when it comes back. */
const RETENTION = '1 hour';

export class ChangeFeed {
  private listener: pg.Client | undefined;
  private lastSeq = 0;
  /** Changes already delivered within the reorder window (catch-up re-reads them). */
  private readonly seen = new Set<number>();
  private connected = false;
  private closed = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private readonly pruneTimer: NodeJS.Timeout;
  private catchingUp: Promise<void> | undefined;
  /**
   * When the last successful read of the log began (performance.now(): the staleness bound is a duration, which a
   * wall clock stepped back would stretch by the step): every change committed before then has been delivered.
   */
  private inStepAt = performance.now();
  private stale = false;
  private readonly ownOrigin: string;
  private readonly log: (line: string) => void;

  private constructor(private readonly options: ChangeFeedOptions) {
    this.ownOrigin = applicationName(options.nodeId);
    this.log = options.log ?? ((line) => console.error(line));
    this.pollTimer = setInterval(() => { void this.catchUp(); }, POLL_MS);
    this.pruneTimer = setInterval(() => { void this.prune(); }, PRUNE_EVERY_MS);
    this.pollTimer.unref();
    this.pruneTimer.unref();
  }

  /** Starts listening; changes committed before this call are not reported (caches start empty). */
  static async start(options: ChangeFeedOptions): Promise<ChangeFeed> {
    const feed = new ChangeFeed(options);
    const { rows } = await options.pool.query<{ newest: string | null }>('SELECT max(seq) AS newest FROM kms_changes');
    feed.lastSeq = Number(rows[0]?.newest ?? 0);
    await feed.connect();
    return feed;
  }

  /** Seconds since the last successful read of the change log began: how stale this node's caches may be. */
  get ageSeconds(): number {
    return (performance.now() - this.inStepAt) / 1000;
  }

  /** True while the log has gone unread past staleAfterMs: the caches are dropped and requests need the store. */
  get cachesDropped(): boolean {
    return this.stale;
  }

  /** True while notifications arrive as they commit (else only the log poll brings changes). */
  get listening(): boolean {
    return this.connected;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...connectionSettings(this.options.url, this.options.nodeId), query_timeout: undefined });
    this.listener = client;
    client.on('notification', (message) => {
      if (message.channel === CHANGES_CHANNEL && message.payload !== undefined) this.deliver(JSON.parse(message.payload) as StoreChange);
    });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      if (this.connected) this.log('kms-engine: store change feed disconnected; polling the change log until it is back');
      this.connected = false;
      client.end().catch(() => {});
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch {
      lost();
      return;
    }
    // Listening first, then reading the log: a change committed in between is seen at least once.
    this.connected = true;
    this.reconnectDelay = RECONNECT_MIN_MS;
    await this.catchUp();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) void this.connect();
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }

  private deliver(change: StoreChange): void {
    const seq = Number(change.seq);
    if (seq <= this.lastSeq - REORDER_WINDOW || this.seen.has(seq)) return;
    this.seen.add(seq);
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      if (this.seen.size > 2 * REORDER_WINDOW) {
        for (const old of this.seen) if (old <= seq - REORDER_WINDOW) this.seen.delete(old);
      }
    }
    if (change.origin === this.ownOrigin) return; // this node already updated its caches when it wrote
    this.options.onChange(change);
  }

  /** Reads the change log past what was seen (one catch-up at a time); failures leave the poll to retry. */
  private catchUp(): Promise<void> {
    this.catchingUp ??= (async () => {
      const startedAt = performance.now();
      // Every change delivered by now committed before the query's snapshot: the log's newest is at least this.
      const seenBefore = this.lastSeq;
      try {
        const from = Math.max(0, seenBefore - REORDER_WINDOW);
        // One row at least (the log's bounds), then one per change past `from`.
        const { rows } = await this.options.pool.query<{
          seq: string | null; kind: StoreChange['kind']; subject: string; origin: string; oldest: string | null; newest: string | null;
        }>(`SELECT c.seq, c.kind, c.subject, c.origin, bounds.oldest, bounds.newest
             FROM (SELECT min(seq) AS oldest, max(seq) AS newest FROM kms_changes) AS bounds
             LEFT JOIN kms_changes c ON c.seq > $1 ORDER BY c.seq`, [from]);
        const newest = Number(rows[0]?.newest ?? 0);
        if (newest < seenBefore) {
          // Numbers this node has seen are being handed out again (PostgreSQL restored, or failed over to a
          // replica that had not replayed the last changes): they would be taken for changes already delivered.
          this.log('kms-engine: store change log went back (PostgreSQL restored or failed over); dropping every cache');
          this.lastSeq = newest;
          this.seen.clear();
          await this.options.onGap();
          return;
        }
        const oldest = Number(rows[0]?.oldest ?? 0);
        if (oldest > this.lastSeq + 1 && this.lastSeq > 0) {
          this.log('kms-engine: store change log was pruned past this node\'s position; dropping every cache');
          await this.options.onGap();
        }
        for (const row of rows) {
          if (row.seq !== null) this.deliver({ seq: Number(row.seq), kind: row.kind, subject: row.subject, origin: row.origin });
        }
        this.inStepAt = startedAt;
        if (this.stale) {
          this.stale = false;
          this.log('kms-engine: store change log readable again; caching keys, aliases and grants again');
        }
      } catch {
        // PostgreSQL unreachable: if it is down for every node, nothing changes there and the caches stay right;
        // but this node alone may be cut off, so they are trusted only for staleAfterMs. The next poll retries.
        const { staleAfterMs = Infinity } = this.options;
        if (performance.now() - this.inStepAt > staleAfterMs) {
          if (!this.stale) {
            this.stale = true;
            this.log(`kms-engine: store change log unreadable for over ${staleAfterMs} ms (KMS_STALE_CACHE_MS); `
              + 'dropping cached keys, aliases and grants until it is back');
          }
          this.options.onStale?.();
        }
      } finally {
        this.catchingUp = undefined;
      }
    })();
    return this.catchingUp;
  }

  /** Keeps the log bounded; always keeps the newest row so a returning node can tell whether it missed some. */
  private async prune(): Promise<void> {
    await this.options.pool.query(
      `DELETE FROM kms_changes WHERE at < now() - interval '${RETENTION}' AND seq < (SELECT max(seq) FROM kms_changes)`,
    ).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearInterval(this.pruneTimer);
    clearTimeout(this.reconnectTimer);
    const client = this.listener;
    this.listener = undefined;
    this.connected = false;
    await client?.end().catch(() => {});
    await this.catchingUp;
  }
}
