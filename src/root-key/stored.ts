// Which root key a store's key material is under, from the headers of the wrapped blobs (ring.ts): what a
// command compares with the root key it was given before it writes anything, so a KMS_ROOT_KEY_FILE that points
// at another key (or at a path where one was just created) is refused rather than mixed into the store.
import { existsSync } from 'node:fs';
import { resolveNodeId } from '../cluster/node-id.js';
import { ConfigError, type Config } from '../config.js';
import type { CryptoPool } from '../pool/crypto-pool.js';
import { openStore } from '../store/open.js';
import type { KeyStore } from '../store/types.js';
import { Pkcs11KeyMissingError } from '../../workers/root-key-pkcs11.js';
import { describeRootKeySource, openRootKey, rootKeyPlan, type RootKeySource } from './open.js';
import { parsePkcs11Uri } from './pkcs11-uri.js';
import { rootKeyIdOfWrapped } from './ring.js';

/** Keys looked at: the first whose material carries a root key id decides. */
const SAMPLE = 100;

/** The root key id the first stored material names; undefined for a store without (headered) material. */
export async function storedRootKeyId(store: KeyStore): Promise<string | undefined> {
  for (const keyId of await store.listKeyIds(undefined, SAMPLE)) {
    const key = await store.getKey(keyId);
    for (const material of key?.materials ?? []) {
      const id = material.wrapped === undefined ? undefined : rootKeyIdOfWrapped(material.wrapped);
      if (id !== undefined) return id;
    }
  }
  return undefined;
}

/**
 * The root key the crypto threads wrap new material under, read from the header of a throwaway material they
 * wrap: this thread never holds the root key (README, "Security notes").
 */
async function wrappingRootKeyId(pool: Pick<CryptoPool, 'run'>): Promise<string | undefined> {
  const probe = await pool.run({
    op: 'wrapMaterial', keyId: '00000000-0000-4000-8000-000000000000', materialId: 'root-key-probe', spec: 'SYMMETRIC_DEFAULT', material: Buffer.alloc(32),
  });
  return probe.ok ? rootKeyIdOfWrapped((probe as { wrapped: Uint8Array }).wrapped) : undefined;
}

/**
 * When the crypto threads' root key is not the one the store's material is under: the two ids (held undefined when
 * the probe failed); undefined when they match or there is nothing to compare. During a rotation (KMS_NEW_ROOT_KEY*)
 * the store holds material under both keys and the threads wrap under the new one: no comparison then
 * (rotate-root-key checks itself).
 */
export async function rootKeyMismatch(config: Config, store: KeyStore, pool: Pick<CryptoPool, 'run'>):
  Promise<{ stored: string; held: string | undefined } | undefined> {
  if (rootKeyPlan(config).next !== undefined) return undefined;
  const stored = await storedRootKeyId(store);
  if (stored === undefined) return undefined;
  const held = await wrappingRootKeyId(pool);
  return held === stored ? undefined : { stored, held };
}

/**
 * A server started with a root key that is not the store's (another store's key file) would serve, and fail every
 * request on an existing key with KMSInternalException: refused at start instead, naming the variable.
 */
export async function refuseForeignRootKey(config: Config, store: KeyStore, pool: Pick<CryptoPool, 'run'>): Promise<void> {
  const mismatch = await rootKeyMismatch(config, store, pool);
  if (mismatch === undefined) return;
  const { current } = rootKeyPlan(config);
  throw new ConfigError(`${current.variable}: ${describeRootKeySource(current)} is not the root key this store's material is under (root key ${mismatch.stored}; given: ${mismatch.held ?? 'unknown'})`);
}

/**
 * A root key that does not exist is created at start, as on a first start: a KMS_ROOT_KEY_FILE, or the secret key a
 * KMS_ROOT_KEY names in its token. But when the store already holds material, no new key can open it (a mistyped
 * path or label, a file lost, another token): refused before the key is made, so a refused start leaves nothing
 * behind, neither a file nor a stray key in the token. A start that goes on opens the store again; this only reads
 * the store while the key is missing, i.e. on a first start.
 */
export async function refuseMissingRootKey(config: Config): Promise<void> {
  const { current } = rootKeyPlan(config);
  if (rootKeyExists(current)) return;
  const store = await openStore(config, resolveNodeId(config));
  let stored: string | undefined;
  try {
    stored = await storedRootKeyId(store);
  } finally {
    await store.close();
  }
  if (stored === undefined) return;
  if (current.kind === 'file') {
    throw new ConfigError(`${current.variable}: ${current.path} does not exist, and this store's material is under root key ${stored}: give the file that holds it`);
  }
  const { object } = parsePkcs11Uri(current.uri);
  throw new ConfigError(`${current.variable}: the token has no secret key labelled '${object}', and this store's material is under root key ${stored}: give the URI of the key that holds it`);
}

/** Whether the root key is there to open; any other problem with a token (PIN, module, URI) is reported by opening it. */
function rootKeyExists(source: RootKeySource): boolean {
  if (source.kind === 'file') return existsSync(source.path);
  try {
    openRootKey(source).close?.();
    return true;
  } catch (error) {
    if (error instanceof ConfigError && error.cause instanceof Pkcs11KeyMissingError) return false;
    throw error;
  }
}
