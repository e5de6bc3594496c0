// A front-end child's line to the KMS_FRONTENDS primary (src/cluster/frontends.ts), over node:cluster IPC.
//
// What goes over it:
//  - readiness: the child reports its URL once it listens (the primary prints the one `listening on` line),
//    or its start-up failure as one line (the primary prints it once and stops everything);
//  - cache invalidation: every key, alias or grant write this child commits is announced, and the write
//    resolves only once every sibling has dropped what it cached (BroadcastingStore below). So a DisableKey
//    answered by this child is honoured by a sibling's very next request, with no polling window;
//  - /metrics: the child asked asks the primary, which gathers every child's registry and sums them;
//  - request quotas (KMS_QUOTAS with the in-memory store): the primary keeps the token buckets and the
//    children lease tokens from them (frontend-buckets.ts), so the limits hold for the engine, not per child.
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import {
  StoreConflict, type AliasRecord, type AliasWrite, type GrantRecord, type PlacedGrant, type KeyRecord, type KeyStore, type KeyUsageRecord,
} from '../store/types.js';
import type { StoreChange } from './change-feed.js';
import { dropChanged, type CachedViews } from './invalidation.js';

/** Set by the primary in each child's environment: which front end (1..N) this process is. */
export const FRONTEND_INDEX_ENV = 'KMS_FRONTEND_INDEX';

/**
 * Front end `index`'s configuration: its share of the crypto workers, its own audit chain (one writer per
 * file: KMS_AUDIT_LOG.1, .2, ...) under its own node id (`<node id>.<index>`, also its name on a PostgreSQL
 * change feed and in Redis quota shares), and no seed file (the primary applied it once before forking).
 */
export function frontendConfig(config: Config, index: number, baseNodeId: string): Config {
  return {
    ...config,
    workers: Math.max(1, Math.round(config.workers / config.frontends)),
    auditLog: `${config.auditLog}.${index}`,
    nodeId: `${baseNodeId}.${index}`,
    seedFile: undefined,
  };
}

export type Change = Pick<StoreChange, 'kind' | 'subject'>;

/** Every message carries `kmsfe` so it cannot be mistaken for another library's cluster messages. */
export type ToPrimary =
  | { kmsfe: 'hello' }
  | { kmsfe: 'ready'; url: string }
  | { kmsfe: 'failed'; message: string; exitCode: number }
  | { kmsfe: 'changed'; id: number; changes: Change[] }
  | { kmsfe: 'invalidated'; id: number }
  | { kmsfe: 'lock'; id: number; keyId: string }
  | { kmsfe: 'unlock'; keyId: string }
  | { kmsfe: 'metrics'; id: number }
  | { kmsfe: 'lease'; id: number; bucket: string; rate: number; capacity: number; want: number; owed: number }
  | { kmsfe: 'quota-heartbeat'; id: number }
  | { kmsfe: 'collected'; id: number; metrics: unknown[] };

export type ToChild =
  | { kmsfe: 'invalidate'; id: number; changes: Change[] }
  | { kmsfe: 'changed-ack'; id: number }
  | { kmsfe: 'locked'; id: number; keyId: string }
  | { kmsfe: 'collect'; id: number }
  | { kmsfe: 'metrics-text'; id: number; text?: string }
  | { kmsfe: 'leased'; id: number; granted: number }
  | { kmsfe: 'quota-members'; id: number; live: number };

/**
 * How long a write waits for its siblings' acknowledgement. Far above an IPC round trip (tens of microseconds);
 * reached only when the primary is gone or a sibling is wedged, and then the write (already durable) is answered.
 */
const ACK_TIMEOUT_MS = 2_000;
const METRICS_TIMEOUT_MS = 5_000;
/** A key lock not granted by then (the primary is gone or wedged): the write goes ahead on the version check alone. */
const LOCK_TIMEOUT_MS = 10_000;
/**
 * How long a key stays locked after a write lost a version race, waiting for the keyring's next retry
 * (reload, re-apply, write). A retry that is never written (the reloaded key refused the change) frees it then.
 */
const CONFLICT_HOLD_MS = 2_000;
/**
 * How long a quota lease or heartbeat waits for the primary (an IPC round trip is tens of microseconds). Past it
 * the child counts quotas locally at its share until the primary answers a heartbeat again.
 */
export const QUOTA_TIMEOUT_MS = 500;

export class FrontendLink {
  #views: CachedViews | undefined;
  #registry: Registry | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, (value: unknown) => void>();

  constructor(readonly index: number, readonly count: number) {
    process.on('message', (message: unknown) => {
      if (typeof message !== 'object' || message === null || !('kmsfe' in message)) return;
      this.#receive(message as ToChild);
    });
    // From here on this child answers invalidations; before, it had nothing cached and is not asked.
    this.#send({ kmsfe: 'hello' });
  }

  /** This process's link when the primary forked it as a front end; undefined otherwise. */
  static fromEnvironment(count: number): FrontendLink | undefined {
    const raw = process.env[FRONTEND_INDEX_ENV];
    if (raw === undefined || !/^\d+$/.test(raw) || process.send === undefined) return undefined;
    return new FrontendLink(Number(raw), count);
  }

  /** The caches a sibling's change must reach. Until attached nothing is cached, so there is nothing to drop. */
  attach(views: CachedViews): void {
    this.#views = views;
  }

  attachMetrics(registry: Registry): void {
    this.#registry = registry;
  }

  /** Front end 1 runs scheduled work (deletions, rotations): one pass per store, not N racing ones. */
  get runsScheduledWork(): boolean {
    return this.index === 1;
  }

  listening(url: string): void {
    this.#send({ kmsfe: 'ready', url });
  }

  /** Resolves once the report is on its way, so the child may exit right after. */
  failed(message: string, exitCode: number): Promise<void> {
    return new Promise((resolve) => {
      if (process.send === undefined || !process.connected) { resolve(); return; }
      try {
        process.send({ kmsfe: 'failed', message, exitCode } satisfies ToPrimary, undefined, {}, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** Resolves once every sibling has dropped what `changes` name (or after ACK_TIMEOUT_MS). */
  announce(changes: Change[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    return this.#request((id) => ({ kmsfe: 'changed', id, changes }), ACK_TIMEOUT_MS).then(() => {});
  }

  /**
   * The Prometheus text summed over every front end. Throws when the primary does not answer: this child's own
   * registry alone would be a fraction of every counter, which Prometheus takes for a restart (and the whole
   * counts for an increase at the next full scrape), so the scrape fails instead.
   */
  async renderMetrics(): Promise<string> {
    const text = await this.#request<string>((id) => ({ kmsfe: 'metrics', id }), METRICS_TIMEOUT_MS);
    if (text === undefined) throw new Error('the KMS_FRONTENDS primary did not sum the front ends\' metrics in time');
    return text;
  }

  /** Exclusive right to write `keyId` among the front ends, until unlock(). */
  lock(keyId: string): Promise<void> {
    return this.#request((id) => ({ kmsfe: 'lock', id, keyId }), LOCK_TIMEOUT_MS).then(() => {});
  }

  unlock(keyId: string): void {
    this.#send({ kmsfe: 'unlock', keyId });
  }

  wrapStore(store: KeyStore): KeyStore {
    return new BroadcastingStore(store, this);
  }

  /** Tokens granted from the primary's bucket (see TokenBucketTable.lease); undefined if it did not answer in time. */
  leaseTokens(bucket: string, rate: number, capacity: number, want: number, owed: number): Promise<number | undefined> {
    return this.#request<number>((id) => ({ kmsfe: 'lease', id, bucket, rate, capacity, want, owed }), QUOTA_TIMEOUT_MS);
  }

  /** How many front ends the primary runs now; undefined if it did not answer in time. */
  liveFrontends(): Promise<number | undefined> {
    return this.#request<number>((id) => ({ kmsfe: 'quota-heartbeat', id }), QUOTA_TIMEOUT_MS);
  }

  #request<T = undefined>(message: (id: number) => ToPrimary, timeoutMs: number): Promise<T | undefined> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#pending.delete(id); resolve(undefined); }, timeoutMs);
      timer.unref();
      this.#pending.set(id, (value) => { clearTimeout(timer); this.#pending.delete(id); resolve(value as T | undefined); });
      if (!this.#send(message(id))) this.#pending.get(id)?.(undefined);
    });
  }

  #receive(message: ToChild): void {
    switch (message.kmsfe) {
      case 'invalidate':
        // Synchronous: by the time the acknowledgement leaves, the next request here reloads from the store.
        if (this.#views !== undefined) for (const change of message.changes) dropChanged(this.#views, change);
        this.#send({ kmsfe: 'invalidated', id: message.id });
        return;
      case 'collect': {
        const registry = this.#registry;
        const id = message.id;
        if (registry === undefined) { this.#send({ kmsfe: 'collected', id, metrics: [] }); return; }
        registry.getMetricsAsJSON().then(
          (metrics) => this.#send({ kmsfe: 'collected', id, metrics }),
          () => this.#send({ kmsfe: 'collected', id, metrics: [] }),
        );
        return;
      }
      case 'locked': {
        const waiter = this.#pending.get(message.id);
        if (waiter !== undefined) waiter(undefined);
        else this.unlock(message.keyId); // granted after this child stopped waiting: hand it on at once
        return;
      }
      case 'changed-ack':
        this.#pending.get(message.id)?.(undefined);
        return;
      case 'metrics-text':
        this.#pending.get(message.id)?.(message.text);
        return;
      case 'leased':
        this.#pending.get(message.id)?.(message.granted);
        return;
      case 'quota-members':
        this.#pending.get(message.id)?.(message.live);
        return;
    }
  }

  #send(message: ToPrimary): boolean {
    if (process.send === undefined || !process.connected) return false;
    try {
      process.send(message);
      return true;
    } catch {
      return false; // the primary is gone: the child is about to be stopped anyway
    }
  }
}

/**
 * The store as a front-end child sees it: reads go straight through; each committed write is announced to the
 * siblings before it resolves, so the caller (Keyring, grant operations) answers only after every front end
 * has forgotten the old state.
 *
 * Key updates are also serialized across the front ends, per key. Within one process the keyring already
 * serializes them and retries once on a version conflict (store.updateKey's expected version); across
 * processes a sibling could commit between that retry's reload and its write, and the second conflict would
 * fail the request. So each updateKey holds the key's lock (granted by the primary) for its write, and a write
 * that loses the version race keeps holding it through the keyring's reload and retry, which therefore wins. An
 * alias written with its key (a key's alias limit, see Keyring.pointAlias) is announced with it, under the lock. With SQLite, a sibling's read that raced the write cannot re-cache the old state:
 * its reads run synchronously inside one event-loop turn and the invalidation arrives in a later one.
 */
export class BroadcastingStore implements KeyStore {
  readonly kind: string;
  /** Keys whose lock is kept for the keyring's retry after a lost version race, with the timer that frees it. */
  readonly #heldForRetry = new Map<string, NodeJS.Timeout>();

  constructor(private readonly inner: KeyStore, private readonly link: Pick<FrontendLink, 'announce' | 'lock' | 'unlock'>) {
    this.kind = inner.kind;
  }

  getKey(keyId: string): Promise<KeyRecord | undefined> { return this.inner.getKey(keyId); }
  listKeyIds(afterKeyId: string | undefined, limit: number): Promise<string[]> { return this.inner.listKeyIds(afterKeyId, limit); }
  countKeysByState(): Promise<Record<string, number>> { return this.inner.countKeysByState(); }
  dueKeys(now: number): Promise<string[]> { return this.inner.dueKeys(now); }
  getAlias(name: string): Promise<AliasRecord | undefined> { return this.inner.getAlias(name); }
  listAliases(keyId?: string): Promise<AliasRecord[]> { return this.inner.listAliases(keyId); }
  listAliasesAfter(keyId: string | undefined, afterName: string | undefined, limit: number): Promise<AliasRecord[]> {
    return this.inner.listAliasesAfter(keyId, afterName, limit);
  }
  listGrants(keyId: string): Promise<GrantRecord[]> { return this.inner.listGrants(keyId); }
  getGrant(grantId: string): Promise<GrantRecord | undefined> { return this.inner.getGrant(grantId); }
  listGrantsByRetiringPrincipal(principal: string): Promise<GrantRecord[]> { return this.inner.listGrantsByRetiringPrincipal(principal); }
  listGrantsAfter(of: { keyId: string } | { retiringPrincipal: string }, afterPlace: number, limit: number): Promise<PlacedGrant[]> {
    return this.inner.listGrantsAfter(of, afterPlace, limit);
  }
  // Uses are not announced: no front end caches them (src/keys/usage-tracker.ts reads the store).
  recordKeyUsage(uses: readonly KeyUsageRecord[]): Promise<void> { return this.inner.recordKeyUsage(uses); }
  getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined> { return this.inner.getKeyUsage(keyId); }
  usageTrackingStart(): Promise<number> { return this.inner.usageTrackingStart(); }
  close(): Promise<void> { return this.inner.close(); }

  // A new key id is random: no sibling can have cached it (the keyring caches no misses for keys).
  insertKey(record: KeyRecord): Promise<void> { return this.inner.insertKey(record); }

  async updateKey(record: KeyRecord, expectedVersion: number, alias?: AliasWrite): Promise<void> {
    const { keyId } = record;
    const held = this.#heldForRetry.get(keyId);
    if (held !== undefined) {
      clearTimeout(held);
      this.#heldForRetry.delete(keyId);
    } else {
      await this.link.lock(keyId);
    }
    try {
      await this.inner.updateKey(record, expectedVersion, alias);
    } catch (error) {
      if (error instanceof StoreConflict) {
        this.#heldForRetry.set(keyId, setTimeout(() => {
          this.#heldForRetry.delete(keyId);
          this.link.unlock(keyId);
        }, CONFLICT_HOLD_MS));
      } else {
        this.link.unlock(keyId);
      }
      throw error;
    }
    try {
      // Announced before the lock is released: the next writer starts from the new version, not a stale cache.
      const changes: Change[] = [{ kind: 'key', subject: keyId }];
      if (alias !== undefined) changes.push({ kind: 'alias', subject: alias.alias.name });
      await this.link.announce(changes);
    } finally {
      this.link.unlock(keyId);
    }
  }

  async deleteKey(keyId: string): Promise<void> {
    const aliases = await this.inner.listAliases(keyId);
    await this.inner.deleteKey(keyId);
    await this.link.announce([
      { kind: 'key', subject: keyId }, { kind: 'grant', subject: keyId },
      ...aliases.map((alias): Change => ({ kind: 'alias', subject: alias.name })),
    ]);
  }

  // Siblings cache missing aliases too, so a new alias is announced like a changed one.
  async insertAlias(alias: AliasRecord): Promise<void> {
    await this.inner.insertAlias(alias);
    await this.link.announce([{ kind: 'alias', subject: alias.name }]);
  }

  async updateAlias(alias: AliasRecord): Promise<void> {
    await this.inner.updateAlias(alias);
    await this.link.announce([{ kind: 'alias', subject: alias.name }]);
  }

  async deleteAlias(name: string): Promise<boolean> {
    const deleted = await this.inner.deleteAlias(name);
    await this.link.announce([{ kind: 'alias', subject: name }]);
    return deleted;
  }

  async insertGrant(grant: GrantRecord, sameAs?: (existing: GrantRecord) => boolean, maxGrantsPerKey?: number): Promise<GrantRecord> {
    const stored = await this.inner.insertGrant(grant, sameAs, maxGrantsPerKey);
    if (stored === grant) await this.link.announce([{ kind: 'grant', subject: grant.keyId }]);
    return stored;
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    const grant = await this.inner.getGrant(grantId);
    const deleted = await this.inner.deleteGrant(grantId);
    if (grant !== undefined) await this.link.announce([{ kind: 'grant', subject: grant.keyId }]);
    return deleted;
  }
}
