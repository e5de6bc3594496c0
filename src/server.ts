// The composition root: configuration -> secrets -> store -> worker pool -> keyring -> access control,
// quotas, audit, metrics -> HTTP server. Shutdown drains in-flight requests, then closes in reverse order.
import { getRequestListener, type ServerType } from '@hono/node-server';
import { createServer as createHttpServer } from 'node:http';
import { createApp, type Health } from './app.js';
import { AuditLog } from './audit/log.js';
import { buildServiceEventRecord } from './audit/record.js';
import { PolicyAccessControl } from './auth/access-control.js';
import { loadIdentities } from './auth/identities.js';
import { partitionOf } from './contract/partition.js';
import { ConfigError, loadConfig, pathError, type Config } from './config.js';
import { makeDataDirectory } from './make-directory.js';
import type { Job, JobName } from './contract/tasks.js';
import { Keyring } from './keys/keyring.js';
import type { ScheduledEvent } from './keys/scheduler.js';
import { KeyUsageTracker } from './keys/usage-tracker.js';
import { recoverKeyUsage } from './keys/usage-recovery.js';
import { createMetrics } from './metrics/registry.js';
import type { Engine, QuotaGate } from './operations/context.js';
import type { Pipeline, Realism } from './pipeline.js';
import { CryptoPool } from './pool/crypto-pool.js';
import { InlineLane } from './pool/inline-lane.js';
import { parseQuotas, throttlingError } from './quota/index.js';
import { chargeRequest } from './quota/charge.js';
import { openRequestQuotas } from './quota/open.js';
import { FrontendBuckets } from './cluster/frontend-buckets.js';
import { auditNodeId, joinCluster, resolveNodeId, startScheduledWork } from './cluster/index.js';
import { rootCredentials, type StartCredentials } from './secrets.js';
import { prepareRootKeys, rootKeyPlan, type RootKeyPlan } from './root-key/open.js';
import { refuseForeignRootKey, refuseMissingRootKey } from './root-key/stored.js';
import { refuseOtherRegionOrAccount } from './keys/store-home.js';
import { openStore } from './store/open.js';
import { loadTlsOptions, type TlsListenOptions } from './tls.js';
import { startWarnings } from './start-warnings.js';
import { createRealism } from './realism-config.js';
import type { FrontendLink } from './cluster/frontend-link.js';
import { applyStartupSeedFile } from './seed/apply.js';
import { listenError } from './listen-errors.js';
import { answerRefusalsInAwsShape, answerRequestError, requiringHost, type OnRefused } from './http-refusals.js';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const SCHEDULER_INTERVAL_MS = 10_000;
const DRAIN_TIMEOUT_MS = 8_000;
const DRAIN_SWEEP_INTERVAL_MS = 100;
const CONNECTION_CHECK_INTERVAL_MS = 1_000;

/**
 * The KMS operation a worker job serves, for the `operation` label of the pool histograms: the registry folds
 * names that are not KMS operations into 'unknown', and job names (`sign`, `generateMaterial`) are not.
 * Material jobs are labelled with the operation that usually asks for them (rotation also generates material).
 */
const POOL_JOB_OPERATION: Readonly<Record<JobName, string>> = {
  generateMaterial: 'CreateKey', wrapMaterial: 'ImportKeyMaterial', importParameters: 'GetParametersForImport',
  unwrapImport: 'ImportKeyMaterial', encrypt: 'Encrypt', decrypt: 'Decrypt',
  reEncrypt: 'ReEncrypt', generateDataKey: 'GenerateDataKey', generateDataKeyPair: 'GenerateDataKeyPair', sign: 'Sign',
  verify: 'Verify', generateMac: 'GenerateMac', verifyMac: 'VerifyMac', deriveSharedSecret: 'DeriveSharedSecret',
  encapsulate: 'Encapsulate', decapsulate: 'Decapsulate',
};

/** A job's KMS operation: the *WithoutPlaintext data key operations run their siblings' jobs without the plaintext. */
function poolJobOperation(job: Job): string {
  if ((job.op === 'generateDataKey' || job.op === 'generateDataKeyPair') && !job.withPlaintext) {
    return `${POOL_JOB_OPERATION[job.op]}WithoutPlaintext`;
  }
  return POOL_JOB_OPERATION[job.op];
}

/** The main thread's own key cache (inline lane): as large as a worker's, same expiry. */
const INLINE_CACHE_ENTRIES = 50_000;
const INLINE_CACHE_TTL_MS = 5 * 60_000;

/**
 * Everything but the HTTP listener: shared by `serve` and `seed`. `frontend`: this process is one of
 * KMS_FRONTENDS children (src/cluster/frontend-link.ts); its writes reach the siblings' caches before they resolve.
 * `createCredentials: false` (the seed command): root credentials are left for the server's first start to make.
 */
export async function openEngine(config: Config, print: (line: string) => void, frontend?: FrontendLink,
  { createCredentials = true }: { createCredentials?: boolean } = {}) {
  makeDataDirectory(config.dataDir);
  await refuseMissingRootKey(config);
  const rootKeys = rootKeyPlan(config);
  const preparedRootKeys = prepareRootKeys(rootKeys);
  const credentials = rootCredentials(config, { create: createCredentials });
  try {
    return await assembleEngine(config, print, frontend, rootKeys, preparedRootKeys, credentials);
  } catch (error) {
    credentials.withdraw(); // a failed start printed no credentials: the next one makes and prints its own
    throw error;
  }
}

async function assembleEngine(config: Config, print: (line: string) => void, frontend: FrontendLink | undefined,
  rootKeys: RootKeyPlan, preparedRootKeys: { close(): void }, credentials: StartCredentials) {
  const identities = loadIdentities({
    accountId: config.accountId, rootAccessKeyId: credentials.accessKeyId,
    rootSecretAccessKey: credentials.secretAccessKey, identitiesFile: config.identitiesFile,
    partition: partitionOf(config.region),
  });
  const nodeId = resolveNodeId(config);
  const store = await openStore(config, nodeId);
  try {
    await refuseOtherRegionOrAccount(store, config.region, config.accountId);
  } catch (error) {
    await store.close();
    throw error;
  }
  const sharedStore = frontend?.wrapStore(store) ?? store;
  let onTask: ConstructorParameters<typeof CryptoPool>[0]['onTask'];
  const pool = new CryptoPool({
    workers: config.workers, rootKeys, batchSize: config.batchSize,
    maxQueuedJobs: config.maxQueuedJobs, onTask: (report) => onTask?.(report),
    inline: config.inlineCrypto ? new InlineLane(rootKeys, INLINE_CACHE_ENTRIES, INLINE_CACHE_TTL_MS) : undefined,
  });
  const access = new PolicyAccessControl(identities, sharedStore, config.accountId, partitionOf(config.region), config.region);
  // Material found expired on use is audited by serveEngine, which opens the audit log later.
  let onMaterialExpired: ((keyArn: string) => Promise<void>) | undefined;
  const keyring = new Keyring(sharedStore, config.region, config.accountId, {
    onKeyRetired: (keyId) => pool.evict([keyId]),
    onMaterialExpired: (keyArn) => onMaterialExpired?.(keyArn),
  });
  frontend?.attach({ keyring, pool, access });
  // A front end with the in-memory store leases from the primary's buckets: the limits are the engine's, not each front end's.
  const frontends = frontend === undefined ? undefined
    : { buckets: new FrontendBuckets(frontend), name: `front end ${frontend.index}: quota store (the KMS_FRONTENDS primary)` };
  const limiter = await openRequestQuotas(config.quotaStore, parseQuotas(config.quotas, config.region),
    { nodeId, frontends, frontendCount: config.frontends });
  // Other nodes' changes drop this node's cached keys, aliases, grants and worker key material.
  const cluster = await joinCluster(store, nodeId, { keyring, pool, access }, { staleCacheMs: config.staleCacheMs });
  let onThrottle: ((quotaClass: string) => void) | undefined;
  const quotas: QuotaGate = {
    take(account, classes, operation) {
      const refusedBy = chargeRequest(limiter, account, classes, operation);
      if (refusedBy !== undefined) {
        onThrottle?.(refusedBy);
        throw throttlingError();
      }
    },
  };
  const keyUsage = new KeyUsageTracker(sharedStore);
  const engine: Engine = { config, keyring, pool, access, quotas, keyUsage };
  return {
    engine, identities, store, pool, limiter, nodeId, cluster, credentials,
    /** Prints root credentials this start created, once it has succeeded (`print`: openEngine's). */
    announceCredentials() { credentials.announce(print); },
    setTaskObserver(observer: typeof onTask) { onTask = observer; },
    setThrottleObserver(observer: (quotaClass: string) => void) { onThrottle = observer; },
    setExpiryObserver(observer: (keyArn: string) => Promise<void>) { onMaterialExpired = observer; },
    async close() {
      await keyUsage.close();
      await cluster.close();
      await limiter.close?.();
      await pool.close();
      await store.close();
      preparedRootKeys.close();
    },
  };
}

/** Start-up waits for the workers: one that cannot open the root key stops the start with its one line. */
async function workersLoaded(pool: CryptoPool): Promise<void> {
  try {
    await pool.whenLoaded();
  } catch (error) {
    // The worker's error crossed the thread boundary as a plain Error; its message already names the variable.
    throw new ConfigError((error as Error).message);
  }
}

export async function startServer(config: Config = loadConfig(), print: (line: string) => void = console.log,
  frontend?: FrontendLink): Promise<RunningServer> {
  const tls = loadTlsOptions(config);
  const core = await openEngine(config, print, frontend);
  try {
    await workersLoaded(core.pool);
    await refuseForeignRootKey(config, core.store, core.pool);
    const running = await serveEngine(core, config, print, frontend, tls);
    // A worker Piscina starts later (to replace one that died) that cannot open the root key leaves the pool
    // short for good: say why in one line and stop, so a supervisor restarts the server once the cause is fixed.
    core.pool.onWorkerFailure = (error) => {
      console.error(`kms-engine: a crypto thread could not start: ${error.message}; stopping`);
      process.exit(1);
    };
    return running;
  } catch (error) {
    core.credentials.withdraw(); // the start failed: its new credentials were never printed
    throw error;
  }
}

async function serveEngine(core: Awaited<ReturnType<typeof openEngine>>, config: Config, print: (line: string) => void,
  frontend: FrontendLink | undefined, tls: TlsListenOptions | undefined): Promise<RunningServer> {
  const { engine, identities, pool, limiter, store } = core;
  let keysByState: Record<string, number> = {};
  const refreshKeyStates = () => store.countKeysByState().then((counts) => { keysByState = counts; }, () => {});
  await refreshKeyStates();
  const nodeId = auditNodeId(config, core.nodeId);
  const audit = await AuditLog.open(config.auditLog, { region: config.region, accountId: config.accountId, nodeId })
    .catch((error: unknown) => { throw pathError('KMS_AUDIT_LOG', config.auditLog, error); });
  // Uses a crash kept from the store are in the log's newest records: GetKeyLastUsage must not fall behind it.
  await recoverKeyUsage(config.auditLog, engine.keyUsage);
  const metrics = createMetrics({
    poolStats: () => pool.stats(),
    keysByState: () => keysByState,
    auditLagSeconds: () => audit.lagSeconds(),
    quotaSnapshot: () => limiter.snapshot(),
  });
  limiter.registerMetrics?.(metrics.registry);
  core.cluster.registerMetrics?.(metrics.registry);
  if (frontend !== undefined) {
    // /metrics on any front end answers for all of them (the primary sums every child's registry).
    frontend.attachMetrics(metrics.registry);
    metrics.render = async () => ({ contentType: metrics.registry.contentType, body: await frontend.renderMetrics() });
  }
  core.setTaskObserver((report) => {
    for (const job of report.jobs) metrics.observePoolJob(report.waitSeconds, report.runSeconds / report.jobs.length, poolJobOperation(job));
    metrics.keyCache(report.cache.hits, report.cache.misses, report.cache.evictions);
  });
  core.setThrottleObserver((quotaClass) => metrics.throttled(quotaClass));
  if (config.seedFile !== undefined) await applyStartupSeedFile(engine, config.seedFile, print);
  const realism: Realism | undefined = createRealism(config);
  const pipeline: Pipeline = { engine, lookupPrincipal: (id) => identities.lookup(id), metrics, audit, realism, nodeId };

  // Work KMS does on its own (deletions, rotations, expiry) is recorded as a service event, whenever it happens.
  const recordServiceEvent = (event: ScheduledEvent): Promise<void> => audit.append(buildServiceEventRecord({
    eventName: event.eventName, eventTime: new Date(), region: config.region, accountId: config.accountId, keyArn: event.keyArn, nodeId,
  }));
  core.setExpiryObserver((keyArn) => recordServiceEvent({ eventName: 'DeleteExpiredKeyMaterial', keyArn }));
  // With KMS_FRONTENDS > 1 only front end 1 runs passes: N processes would race over the same due keys.
  const stopScheduler = frontend?.runsScheduledWork === false ? () => {}
    : startScheduledWork(core.cluster.workLock, engine.keyring, pool, SCHEDULER_INTERVAL_MS, recordServiceEvent);
  const keyStateTimer = setInterval(refreshKeyStates, 5_000);
  keyStateTimer.unref();

  let phase: 'starting' | 'serving' | 'draining' = 'starting';
  const health = (): Health => phase !== 'serving' ? phase : core.cluster.storeUnreachable?.() === true ? 'store unreachable' : 'ok';
  const app = createApp(pipeline, config.maxBodyBytes, health);
  const server = await listen(app.fetch, config, tls, (code) => metrics.httpRefused(code));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  phase = 'serving';
  const scheme = tls === undefined ? 'http' : 'https';
  const url = `${scheme}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (frontend !== undefined) frontend.listening(url); // the primary prints the line once all children listen
  else {
    // Only now that it listens: a start that fails prints its one line and nothing else.
    for (const warning of startWarnings(config)) console.warn(warning);
    core.announceCredentials();
    print(`kms-engine listening on ${url}`);
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= (async () => {
        phase = 'draining';
        stopScheduler();
        clearInterval(keyStateTimer);
        await drain(server, () => print(`kms-engine: requests still open after ${DRAIN_TIMEOUT_MS / 1000} s of draining; closing their connections`));
        await audit.close();
        await core.close();
      })();
      return closing;
    },
  };
}

type FetchCallback = Parameters<typeof getRequestListener>[0];

function listen(fetch: FetchCallback, config: Config, tls: TlsListenOptions | undefined, onRefused: OnRefused): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    // Node checks the header and request deadlines only every connectionsCheckingInterval (30 s by default),
    // which would let a stalled client hold a connection for up to 40 s past a 10 s deadline.
    // Node's own Host check answers a bare 400; requiringHost makes the same refusal in the AWS shape.
    const serverOptions = { ...tls?.serverOptions, connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS, requireHostHeader: false };
    // @hono/node-server's listener as its serve() builds it, plus an errorHandler (serve() takes none) so the
    // requests it refuses before the app sees them are answered in the AWS shape.
    const listener = requiringHost(getRequestListener(fetch, { hostname: config.host, errorHandler: answerRequestError(onRefused) }), onRefused);
    const server = tls === undefined ? createHttpServer(serverOptions, listener) : tls.createServer(serverOptions, listener);
    server.once('error', (error) => reject(listenError(error, config.host, config.port)));
    server.headersTimeout = config.headersTimeoutMs;
    server.requestTimeout = config.requestTimeoutMs;
    server.keepAliveTimeout = 65_000;
    server.maxConnections = config.maxConnections;
    // A client that half-closes after its requests (shutdown(SHUT_WR), as `nc -N` does) still gets their answers,
    // then the connection closes: Node would end it at the FIN, dropping the answer of a request already being
    // carried out (a CreateKey made but never reported). Undeclared in Node's types, long-standing in its server.
    (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
    answerRefusalsInAwsShape(server, onRefused);
    server.listen(config.port, config.host, () => resolve(server));
  });
}

/**
 * Stops accepting connections and lets in-flight requests finish. Their responses carry `Connection: close`
 * (app.ts, once the server drains), and connections are closed as soon as they go idle: server.close()
 * only closes the ones idle at that instant, so a keep-alive client between two requests would otherwise hold
 * the process until the deadline. Whatever is still open at the deadline is cut.
 */
function drain(server: ServerType, onDeadline: () => void): Promise<void> {
  const http = server as unknown as { closeIdleConnections?(): void; closeAllConnections?(): void };
  return new Promise((resolve) => {
    const sweeper = setInterval(() => http.closeIdleConnections?.(), DRAIN_SWEEP_INTERVAL_MS);
    const timer = setTimeout(() => {
      onDeadline();
      clearInterval(sweeper);
      http.closeAllConnections?.();
      resolve();
    }, DRAIN_TIMEOUT_MS);
    server.close(() => {
      clearInterval(sweeper);
      clearTimeout(timer);
      resolve();
    });
    http.closeIdleConnections?.();
  });
}
