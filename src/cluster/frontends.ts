// KMS_FRONTENDS > 1: `kms-engine serve` as a node:cluster primary with N front-end children sharing the port.
// One process's main thread (HTTP parsing, SigV4, the pipeline) is the throughput ceiling long before the crypto
// workers are; N processes each run a whole engine (Hono + pipeline + their own Piscina pool) on one store.
//
// The primary serves no requests. It:
//  - does once, before forking, what must happen once: data dir, root key file, credentials (printed once, when
//    every child listens), node id, store migrations, KMS_SEED_FILE;
//  - prints the `listening on` line once every child listens; a child's start-up failure stops everything
//    with that child's one-line error and its exit code;
//  - relays cache invalidations between children and acknowledges them to the writer once every sibling
//    has dropped the change, and grants per-key write locks (src/cluster/frontend-link.ts);
//  - answers a child's /metrics request with every child's registry summed, counters never going back when a
//    child answers late or is replaced (src/cluster/summed-metrics.ts);
//  - keeps the request-quota token buckets of the in-memory quota store (src/quota/bucket-table.ts) and
//    grants the children's leases from them, so KMS_QUOTAS limits the engine, not each child;
//  - replaces a child that dies after start-up (one line on stderr), and on SIGTERM/SIGINT drains and stops
//    every child, then exits 0.
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config.js';
import { makeDataDirectory } from '../make-directory.js';
import { prepareRootKeys, rootKeyPlan } from '../root-key/open.js';
import { refuseMissingRootKey } from '../root-key/stored.js';
import { rootCredentials, type StartCredentials } from '../secrets.js';
import { startWarnings } from '../start-warnings.js';
import { TokenBucketTable } from '../quota/bucket-table.js';
import { openStore } from '../store/open.js';
import { FRONTEND_INDEX_ENV, type Change, type ToChild, type ToPrimary } from './frontend-link.js';
import { resolveNodeId } from './node-id.js';
import { SummedMetrics, type Collected } from './summed-metrics.js';

/** A sibling that has not acknowledged an invalidation by then is wedged: the writer is answered anyway. */
const ACK_TIMEOUT_MS = 1_500;
const COLLECT_TIMEOUT_MS = 3_000;
/** The children's own drain deadline (server.ts) plus room to close the audit log and the store. */
const STOP_TIMEOUT_MS = 15_000;
/** A child that dies this soon after it started is replaced after REPLACE_BACKOFF_MS, so a crash loop cannot spin. */
const QUICK_DEATH_MS = 5_000;
const REPLACE_BACKOFF_MS = 1_000;
/** How often quota buckets untouched long enough to be full again are forgotten. */
const BUCKET_SWEEP_MS = 60_000;

interface Output {
  print(line: string): void;
  error(line: string): void;
}

interface Slot {
  index: number;
  worker: Worker;
  /** Sent 'hello': answers invalidations. */
  linked: boolean;
  ready: boolean;
  startedAt: number;
}

interface Gathering<T> {
  waiting: Set<Worker>;
  results: T[];
  timer: NodeJS.Timeout;
  finish(results: T[]): void;
}

export async function runFrontends(config: Config, output: Output = { print: console.log, error: console.error }): Promise<number> {
  const credentials = await prepareOnce(config, output.print);
  return new Primary(config, output, credentials).run();
}

/**
 * Everything that must happen exactly once, whatever the number of children. New root credentials are saved
 * here (the children read them) but printed only once every child listens; a failure here removes them.
 */
async function prepareOnce(config: Config, print: (line: string) => void): Promise<StartCredentials> {
  if (config.seedFile !== undefined) {
    // The seed needs an engine (keyring, pool for key material); openEngine also does everything below.
    const { openEngine } = await import('../server.js');
    const { applyStartupSeedFile } = await import('../seed/apply.js');
    const core = await openEngine(config, print);
    try {
      await applyStartupSeedFile(core.engine, config.seedFile, print);
    } catch (error) {
      core.credentials.withdraw();
      throw error;
    } finally {
      await core.close();
    }
    return core.credentials;
  }
  makeDataDirectory(config.dataDir);
  await refuseMissingRootKey(config);
  prepareRootKeys(rootKeyPlan(config)).close();
  const credentials = rootCredentials(config);
  try {
    const store = await openStore(config, resolveNodeId(config)); // runs the migrations
    await store.close();
  } catch (error) {
    credentials.withdraw();
    throw error;
  }
  return credentials;
}

class Primary {
  readonly #slots = new Map<number, Slot>();
  readonly #acks = new Map<number, Gathering<never>>();
  /** Per collection, the children that answered it; their registries are in #metrics. */
  readonly #collections = new Map<number, Gathering<Slot>>();
  readonly #metrics = new SummedMetrics<Slot>();
  /** Per-key write locks: the holder, then the requests waiting in order. */
  readonly #locks = new Map<string, { holder: Slot; waiting: Array<{ slot: Slot; id: number }> }>();
  /** The quota buckets the children lease from (KMS_QUOTAS with the in-memory store; unused otherwise). */
  readonly #quotaBuckets = new TokenBucketTable();
  #nextId = 1;
  #started = false;
  #stopping = false;
  #exitCode = 0;
  #done!: (code: number) => void;

  constructor(private readonly config: Config, private readonly output: Output, private readonly credentials: StartCredentials) {}

  run(): Promise<number> {
    const finished = new Promise<number>((resolve) => { this.#done = resolve; });
    const stop = () => this.#stop(0, 'kms-engine: shutting down');
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    const sweeper = setInterval(() => this.#quotaBuckets.sweep(), BUCKET_SWEEP_MS);
    sweeper.unref();
    for (let index = 1; index <= this.config.frontends; index++) this.#fork(index);
    return finished.finally(() => {
      clearInterval(sweeper);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    });
  }

  #fork(index: number): void {
    const worker = cluster.fork({ [FRONTEND_INDEX_ENV]: String(index) });
    const slot: Slot = { index, worker, linked: false, ready: false, startedAt: Date.now() };
    this.#slots.set(index, slot);
    worker.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && 'kmsfe' in message) this.#receive(slot, message as ToPrimary);
    });
    worker.on('exit', (code, signal) => this.#exited(slot, code, signal));
    // A send to a child that just died fails with EPIPE on the worker: its exit is handled above.
    worker.on('error', () => {});
  }

  #receive(slot: Slot, message: ToPrimary): void {
    switch (message.kmsfe) {
      case 'hello':
        slot.linked = true;
        return;
      case 'ready':
        slot.ready = true;
        if (!this.#started && [...this.#slots.values()].every((each) => each.ready)) {
          this.#started = true;
          const workers = Math.max(1, Math.round(this.config.workers / this.config.frontends));
          for (const warning of startWarnings(this.config)) this.output.error(warning);
          this.credentials.announce(this.output.print);
          this.output.print(`kms-engine: ${this.config.frontends} front ends, ${workers} crypto worker${workers === 1 ? '' : 's'} each`);
          this.output.print(`kms-engine listening on ${message.url}`);
        }
        return;
      case 'failed':
        // Start-up failure (port in use, bad configuration): the same for every child, so stop them all and
        // say it once.
        this.#stop(message.exitCode || 1, `kms-engine: ${message.message}`, true);
        return;
      case 'changed':
        this.#relayChange(slot, message.id, message.changes);
        return;
      case 'invalidated':
        this.#answered(this.#acks, message.id, slot.worker);
        return;
      case 'metrics':
        this.#collectMetrics(slot, message.id);
        return;
      case 'lock':
        this.#lock(slot, message.id, message.keyId);
        return;
      case 'unlock':
        this.#unlock(slot, message.keyId);
        return;
      case 'collected':
        this.#metrics.collected(slot, message.metrics as Collected);
        this.#answered(this.#collections, message.id, slot.worker, slot);
        return;
      case 'lease': {
        const granted = this.#quotaBuckets.lease(message.bucket, message.rate, message.capacity, message.want, message.owed);
        this.#send(slot.worker, { kmsfe: 'leased', id: message.id, granted });
        return;
      }
      case 'quota-heartbeat': {
        // Every child forked and not yet gone counts, linked or still starting: each will serve its share.
        let live = 0;
        for (const each of this.#slots.values()) if (!each.worker.isDead()) live++;
        this.#send(slot.worker, { kmsfe: 'quota-members', id: message.id, live: Math.max(1, live) });
        return;
      }
    }
  }

  #relayChange(origin: Slot, originId: number, changes: Change[]): void {
    const siblings = [...this.#slots.values()].filter((slot) => slot !== origin && slot.linked);
    this.#gather(this.#acks, siblings, (id): ToChild => ({ kmsfe: 'invalidate', id, changes }), ACK_TIMEOUT_MS,
      () => this.#send(origin.worker, { kmsfe: 'changed-ack', id: originId }));
  }

  #lock(slot: Slot, id: number, keyId: string): void {
    const lock = this.#locks.get(keyId);
    if (lock === undefined) {
      this.#locks.set(keyId, { holder: slot, waiting: [] });
      this.#send(slot.worker, { kmsfe: 'locked', id, keyId });
    } else {
      lock.waiting.push({ slot, id });
    }
  }

  #unlock(slot: Slot, keyId: string): void {
    const lock = this.#locks.get(keyId);
    if (lock === undefined || lock.holder !== slot) return;
    for (let next = lock.waiting.shift(); next !== undefined; next = lock.waiting.shift()) {
      if (next.slot.worker.isDead()) continue;
      lock.holder = next.slot;
      this.#send(next.slot.worker, { kmsfe: 'locked', id: next.id, keyId });
      return;
    }
    this.#locks.delete(keyId);
  }

  #collectMetrics(origin: Slot, originId: number): void {
    const children = [...this.#slots.values()].filter((slot) => slot.linked);
    this.#gather(this.#collections, children, (id): ToChild => ({ kmsfe: 'collect', id }), COLLECT_TIMEOUT_MS, (results) => {
      const answer = (text?: string) => this.#send(origin.worker, { kmsfe: 'metrics-text', id: originId, text });
      // Counters and histograms sum; gauges follow each metric's `aggregator` (src/metrics/registry.ts).
      this.#metrics.render(new Set(results)).then(answer, () => answer(undefined));
    });
  }

  /** Sends one request to each of `slots` and calls `finish` when all answered, died, or the timeout passed. */
  #gather<T>(table: Map<number, Gathering<T>>, slots: Slot[], request: (id: number) => ToChild, timeoutMs: number,
    finish: (results: T[]) => void): void {
    const id = this.#nextId++;
    const gathering: Gathering<T> = {
      waiting: new Set(slots.map((slot) => slot.worker)),
      results: [],
      timer: setTimeout(() => this.#settle(table, id), timeoutMs),
      finish,
    };
    table.set(id, gathering);
    for (const worker of [...gathering.waiting]) {
      if (!this.#send(worker, request(id))) gathering.waiting.delete(worker);
    }
    if (gathering.waiting.size === 0) this.#settle(table, id);
  }

  #answered<T>(table: Map<number, Gathering<T>>, id: number, worker: Worker, result?: T): void {
    const gathering = table.get(id);
    if (gathering === undefined || !gathering.waiting.delete(worker)) return;
    if (result !== undefined) gathering.results.push(result);
    if (gathering.waiting.size === 0) this.#settle(table, id);
  }

  #settle<T>(table: Map<number, Gathering<T>>, id: number): void {
    const gathering = table.get(id);
    if (gathering === undefined) return;
    table.delete(id);
    clearTimeout(gathering.timer);
    gathering.finish(gathering.results);
  }

  #exited(slot: Slot, code: number | null, signal: string | null): void {
    // Its counts so far stay in /metrics' sums (a replacement starts from 0).
    this.#metrics.exited(slot);
    // A dead child answers nothing: settle whatever waited on it.
    for (const table of [this.#acks, this.#collections] as Array<Map<number, Gathering<unknown>>>) {
      for (const [id, gathering] of table) {
        if (gathering.waiting.delete(slot.worker) && gathering.waiting.size === 0) this.#settle(table, id);
      }
    }
    // Nor writes: its key locks pass to the next in line, and its place in any line is dropped.
    for (const [keyId, lock] of this.#locks) {
      lock.waiting = lock.waiting.filter((entry) => entry.slot !== slot);
      if (lock.holder === slot) this.#unlock(slot, keyId);
    }
    if (this.#slots.get(slot.index) === slot && this.#stopping) this.#slots.delete(slot.index);
    if (this.#stopping) {
      if (this.#slots.size === 0) this.#done(this.#exitCode);
      return;
    }
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    if (!slot.ready) {
      // Died before listening, without a one-line reason (a crash while loading): as fatal as a reported one.
      this.#stop(1, `kms-engine: front end ${slot.index} exited with ${how} while starting`, true);
      return;
    }
    this.output.error(`kms-engine: front end ${slot.index} (pid ${slot.worker.process.pid}) exited with ${how}; starting a replacement`);
    const delay = Date.now() - slot.startedAt < QUICK_DEATH_MS ? REPLACE_BACKOFF_MS : 0;
    setTimeout(() => { if (!this.#stopping) this.#fork(slot.index); }, delay);
  }

  #stop(exitCode: number, line: string, isError = false): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#exitCode = exitCode;
    // A start that failed printed no credentials: the next start makes and prints its own.
    if (!this.#started) this.credentials.withdraw();
    if (isError) this.output.error(line);
    else this.output.print(line);
    for (const [index, slot] of this.#slots) {
      if (slot.worker.isDead()) this.#slots.delete(index);
      else slot.worker.process.kill('SIGTERM');
    }
    if (this.#slots.size === 0) { this.#done(exitCode); return; }
    // A child that does not finish draining in time is cut: the primary must exit.
    setTimeout(() => {
      for (const slot of this.#slots.values()) slot.worker.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS).unref();
  }

  #send(worker: Worker, message: ToChild): boolean {
    if (!worker.isConnected()) return false;
    try {
      worker.send(message);
      return true;
    } catch {
      return false;
    }
  }
}
