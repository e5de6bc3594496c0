// Typed configuration, read from the environment once at start (interface.md). A bad value stops the server
// with one line naming the variable: ConfigError carries that line.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parsePoolTargets } from '../workers/primitives/rsa-pool.js';

/**
 * An access key id, for the root credentials and for every KMS_IDENTITIES entry alike. AWS issues 20 upper-case
 * characters, but test fixtures name principals `bob` or `AKIDEXAMPLE`: SigV4 only needs the id to be a token
 * without '/', so any run of letters and digits is accepted.
 */
export const ACCESS_KEY_ID_PATTERN = /^[A-Za-z0-9]{1,128}$/;
export const ACCESS_KEY_ID_RULE = '1-128 letters and digits';

export class ConfigError extends Error {}

/**
 * A failure on a path a variable names (KMS_DATA_DIR, KMS_ROOT_KEY_FILE, KMS_AUDIT_LOG), as the one start-up line
 * naming the variable: the system's code for file system errors rather than Node's text.
 */
export function pathError(variable: string, path: string, error: unknown): ConfigError {
  if (error instanceof ConfigError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return new ConfigError(`${variable}: cannot use ${path} (${code})`);
  return new ConfigError(`${variable}: ${error instanceof Error ? error.message : String(error)}`);
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  region: string;
  accountId: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  identitiesFile?: string;
  quotas: string;
  rootKeyFile: string;
  rootKeyUri?: string;
  /** The root key being rotated to (KMS_NEW_ROOT_KEY_FILE / KMS_NEW_ROOT_KEY): wraps new material, both unwrap. */
  newRootKeyFile?: string;
  newRootKeyUri?: string;
  store: string; // 'sqlite' or a postgres:// URL
  quotaStore: string; // 'memory' or a redis:// URL
  /** KMS_NODE_ID: this node's name in a cluster (audit records, change notifications); generated when unset. */
  nodeId?: string;
  workers: number;
  auditLog: string;
  tlsCert?: string;
  tlsKey?: string;
  seedFile?: string;
  latency?: string;
  faults?: string;
  /** Jobs per pool task when the queue is deep (ceilings.md: 32 per task more than doubled small-op throughput). */
  batchSize: number;
  /** Run jobs cheaper than a thread hop on the main thread (KMS_INLINE_CRYPTO=on, the default) or hop them all. */
  inlineCrypto: boolean;
  /** Jobs waiting for a worker before new ones are throttled: backpressure instead of unbounded queueing. */
  maxQueuedJobs: number;
  maxBodyBytes: number;
  /** Open client connections past which new ones are refused (a guard against descriptor exhaustion). */
  maxConnections: number;
  /** Deadlines for receiving a request's headers, and the whole request, from a client (slow or stalled clients). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /**
   * KMS_FRONTENDS: processes serving HTTP (1 = one process, as always; auto = one per CPU). With more than one,
   * `serve` is a node:cluster primary whose children share the port (src/cluster/frontends.ts).
   */
  frontends: number;
  /**
   * KMS_STALE_CACHE_MS: on a shared store, how long a node that cannot read the other nodes' changes keeps
   * answering from its caches (a PostgreSQL restart or failover); past it, its cached keys, aliases and grants
   * are dropped, so a key disabled or a grant revoked meanwhile on a node that can reach the store is not
   * honoured here for longer than this.
   */
  staleCacheMs: number;
  /**
   * KMS_STORE_POOL_SIZE: PostgreSQL connections this node's requests share, split over its KMS_FRONTENDS front
   * ends (src/store/open.ts), so the connections a cluster opens can be sized against max_connections.
   */
  storePoolSize: number;
}

type Env = Record<string, string | undefined>;

// AWS's own Region name pattern: eusc-de-east-1 and us-gov-west-1 as well as us-east-1.
const REGION_PATTERN = /^([a-z]+-){2,3}\d+$/;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got '${raw}'`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'on' && raw !== 'off') throw new ConfigError(`${name} must be 'on' or 'off', got '${raw}'`);
  return raw === 'on';
}

const optional = (env: Env, name: string): string | undefined => (env[name] === '' ? undefined : env[name]);

/**
 * A path the server creates when it is missing (KMS_DATA_DIR, KMS_ROOT_KEY_FILE, KMS_AUDIT_LOG). One that starts or
 * ends with white space (`/data\n` from a file or a config map, `" /data"`) was taken as written: a new directory
 * beside the working directory's, a new root key and new credentials, and the server served an empty store
 * instead of the volume's. Refused like any other bad value.
 */
function creatablePath(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw.trim() !== raw) throw new ConfigError(`${name} must not start or end with white space, got ${JSON.stringify(raw)}`);
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = resolve(creatablePath(env, 'KMS_DATA_DIR') ?? './data');
  const region = env.KMS_REGION || 'us-east-1';
  if (!REGION_PATTERN.test(region)) throw new ConfigError(`KMS_REGION must look like 'us-east-1', got '${region}'`);
  const accountId = env.KMS_ACCOUNT_ID || '111122223333';
  if (!/^\d{12}$/.test(accountId)) throw new ConfigError(`KMS_ACCOUNT_ID must be 12 digits, got '${accountId}'`);
  const accessKeyId = optional(env, 'KMS_ACCESS_KEY_ID');
  const secretAccessKey = optional(env, 'KMS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError('KMS_ACCESS_KEY_ID and KMS_SECRET_ACCESS_KEY must be set together');
  }
  if (accessKeyId !== undefined && !ACCESS_KEY_ID_PATTERN.test(accessKeyId)) {
    throw new ConfigError(`KMS_ACCESS_KEY_ID must be ${ACCESS_KEY_ID_RULE}`);
  }
  const store = env.KMS_STORE || 'sqlite';
  if (store !== 'sqlite' && !/^postgres(ql)?:\/\//.test(store)) {
    throw new ConfigError(`KMS_STORE must be 'sqlite' or a postgres:// URL, got '${store}'`);
  }
  if (store !== 'sqlite' && !URL.canParse(store)) throw new ConfigError('KMS_STORE: not a valid postgres:// URL');
  const quotaStore = env.KMS_QUOTA_STORE || 'memory';
  if (quotaStore !== 'memory' && !/^rediss?:\/\//.test(quotaStore)) {
    throw new ConfigError(`KMS_QUOTA_STORE must be 'memory' or a redis:// URL, got '${quotaStore}'`);
  }
  // Checked here, not where the client connects, so that it is the one line a start prints; never quoted, as a
  // URL may carry a password.
  if (quotaStore !== 'memory' && !URL.canParse(quotaStore)) throw new ConfigError('KMS_QUOTA_STORE: not a valid redis:// URL');
  const nodeId = optional(env, 'KMS_NODE_ID');
  if (nodeId !== undefined && !/^[A-Za-z0-9._-]{1,48}$/.test(nodeId)) {
    throw new ConfigError('KMS_NODE_ID must be 1-48 letters, digits, dots, dashes or underscores');
  }
  const tlsCert = optional(env, 'KMS_TLS_CERT');
  const tlsKey = optional(env, 'KMS_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError('KMS_TLS_CERT and KMS_TLS_KEY must be set together');
  }
  const rootKeyUri = optional(env, 'KMS_ROOT_KEY');
  if (rootKeyUri !== undefined && !rootKeyUri.startsWith('pkcs11:')) {
    throw new ConfigError(`KMS_ROOT_KEY must be a pkcs11: URI`);
  }
  const rootKeyFile = creatablePath(env, 'KMS_ROOT_KEY_FILE');
  if (rootKeyUri !== undefined && rootKeyFile !== undefined) {
    throw new ConfigError('KMS_ROOT_KEY and KMS_ROOT_KEY_FILE both name a root key; set one');
  }
  const newRootKeyUri = optional(env, 'KMS_NEW_ROOT_KEY');
  if (newRootKeyUri !== undefined && !newRootKeyUri.startsWith('pkcs11:')) {
    throw new ConfigError('KMS_NEW_ROOT_KEY must be a pkcs11: URI');
  }
  const newRootKeyFile = creatablePath(env, 'KMS_NEW_ROOT_KEY_FILE');
  if (newRootKeyUri !== undefined && newRootKeyFile !== undefined) {
    throw new ConfigError('KMS_NEW_ROOT_KEY and KMS_NEW_ROOT_KEY_FILE both name a new root key; set one');
  }
  // Read by each crypto worker when it starts; checked here too, or a bad value would only show once the server
  // had printed its credentials and listened, as a worker's stack trace.
  try {
    parsePoolTargets(env.KMS_RSA_POOL);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const host = env.HOST || '127.0.0.1';
  const headersTimeoutMs = integer(env, 'KMS_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestTimeoutMs = integer(env, 'KMS_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError('KMS_REQUEST_TIMEOUT_MS must not be shorter than KMS_HEADERS_TIMEOUT_MS');
  }
  if (env.KMS_FRONTENDS !== undefined && !/^(auto|\d*)$/.test(env.KMS_FRONTENDS)) {
    throw new ConfigError(`KMS_FRONTENDS must be 'auto' or a whole number, got '${env.KMS_FRONTENDS}'`);
  }
  const frontends = env.KMS_FRONTENDS === 'auto' ? Math.max(1, availableParallelism()) : integer(env, 'KMS_FRONTENDS', 1, 1, 256);
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host,
    dataDir,
    region,
    accountId,
    accessKeyId,
    secretAccessKey,
    identitiesFile: optional(env, 'KMS_IDENTITIES'),
    quotas: env.KMS_QUOTAS || 'none',
    rootKeyFile: resolve(rootKeyFile ?? resolve(dataDir, 'root.key')),
    rootKeyUri,
    newRootKeyFile: newRootKeyFile === undefined ? undefined : resolve(newRootKeyFile),
    newRootKeyUri,
    store,
    quotaStore,
    nodeId,
    workers: integer(env, 'KMS_WORKERS', Math.max(1, availableParallelism()), 1, 256),
    auditLog: resolve(creatablePath(env, 'KMS_AUDIT_LOG') ?? resolve(dataDir, 'audit.jsonl')),
    tlsCert,
    tlsKey,
    seedFile: optional(env, 'KMS_SEED_FILE'),
    latency: optional(env, 'KMS_LATENCY'),
    faults: optional(env, 'KMS_FAULTS'),
    batchSize: integer(env, 'KMS_BATCH_SIZE', 32, 1, 1024),
    inlineCrypto: onOff(env, 'KMS_INLINE_CRYPTO', true),
    maxQueuedJobs: integer(env, 'KMS_MAX_QUEUED_JOBS', 4096, 1, 1_000_000),
    maxBodyBytes: integer(env, 'KMS_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxConnections: integer(env, 'KMS_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    headersTimeoutMs,
    requestTimeoutMs,
    frontends,
    staleCacheMs: integer(env, 'KMS_STALE_CACHE_MS', 300_000, 1_000, 86_400_000),
    storePoolSize: integer(env, 'KMS_STORE_POOL_SIZE', 10, 1, 10_000),
  };
}
