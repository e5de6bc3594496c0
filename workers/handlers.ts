// One handler per job: plain functions (job in, result out), used by the pool's worker entry and callable
// in-process by tests. Failures are returned as { ok: false, code, message }, never thrown across the hop.
import { createSecretKey } from 'node:crypto';
import type { KmsErrorCode, KmsFailure } from '../src/contract/errors.js';
import { KEY_SPECS, type KeySpec } from '../src/contract/key-specs.js';
import type {
  BatchResult, Job, JobInput, JobName, JobResult, KeyRef, SealTarget, SealedInput,
} from '../src/contract/tasks.js';
import { GuardedKeyCache, type CachedKey } from './key-cache.js';
import * as primitives from './primitives/index.js';
import { randomBytesFromPool } from './random-pool.js';
import { derivedMaterialId } from '../src/keys/factory.js';
import { makeImportParameters, unwrapImportedMaterial } from './import.js';
import type { RootKey } from './root-key.js';
import { Pkcs11TokenError } from './root-key-pkcs11.js';
import { openSymmetric, sealSymmetric, type SymmetricKey } from './symmetric.js';
import { blobHeader } from '../src/contract/ciphertext-blob.js';

interface UsableKey extends CachedKey {
  symmetric?: SymmetricKey; // SYMMETRIC_DEFAULT
  loaded?: primitives.LoadedKey; // every other spec
}

const fail = (code: KmsErrorCode, message: string): KmsFailure => ({ ok: false, code, message });
const INVALID_CIPHERTEXT = fail('InvalidCiphertextException', 'The ciphertext is invalid, or the encryption context does not match.');

export class JobRunner {
  readonly cache: GuardedKeyCache<UsableKey>;

  constructor(private readonly root: RootKey, cacheEntries = 10_000, cacheTtlMs = 5 * 60_000) {
    this.cache = new GuardedKeyCache<UsableKey>(cacheEntries, cacheTtlMs);
  }

  async runBatch(jobs: readonly Job[]): Promise<BatchResult> {
    const pending: Array<JobResult | Promise<JobResult>> = jobs.map((job) => this.runGuarded(job));
    const results = await Promise.all(pending);
    return { results, cache: this.cache.takeStats() };
  }

  /** Runs one job; anything unexpected becomes KMSInternalException for that job alone. */
  runGuarded(job: Job): JobResult | Promise<JobResult> {
    try {
      const out = this.run(job);
      return out instanceof Promise ? out.catch(toFailure) : out;
    } catch (error) {
      return toFailure(error);
    }
  }

  private run(job: Job): JobResult | Promise<JobResult> {
    const handler = this.handlers[job.op] as (job: Job) => JobResult | Promise<JobResult>;
    return handler(job);
  }

  private readonly handlers: { [N in JobName]: (job: JobInput<N>) => JobResult<N> | Promise<JobResult<N>> } = {
    generateMaterial: async ({ keyId, materialId, spec }) => {
      const { material, publicKey } = spec === 'SYMMETRIC_DEFAULT'
        ? { material: randomBytesFromPool(32), publicKey: undefined }
        : await primitives.generateMaterial(spec);
      try {
        return { ok: true, wrapped: this.root.wrap(keyId, materialId, material), publicKey };
      } finally {
        material.fill(0);
      }
    },
    wrapMaterial: ({ keyId, materialId, spec, material }) => ({ ok: true, ...this.wrapGiven(keyId, materialId, spec, material) }),
    importParameters: async ({ keyId, wrappingKeySpec, wrappingAlgorithm, validTo }) =>
      ({ ok: true, ...await makeImportParameters(this.root, { keyId, wrappingKeySpec, wrappingAlgorithm, validTo }) }),
    unwrapImport: ({ keyId, spec, importToken, encryptedMaterial }) => {
      const material = unwrapImportedMaterial(this.root, keyId, importToken, encryptedMaterial);
      try {
        const materialId = derivedMaterialId(keyId, material);
        return { ok: true, materialId, ...this.wrapGiven(keyId, materialId, spec, material) };
      } catch (error) {
        // Material of the wrong size or type: AWS's answer for invalid imported material.
        if (error instanceof primitives.PrimitiveError && error.code === 'ValidationException') {
          return fail('IncorrectKeyMaterialException', error.message);
        }
        throw error;
      } finally {
        material.fill(0);
      }
    },
    encrypt: ({ target, plaintext }) => ({ ok: true, ciphertext: this.seal(target, plaintext) }),
    decrypt: ({ source }) => {
      const plaintext = this.open(source);
      return plaintext === null ? INVALID_CIPHERTEXT : { ok: true, plaintext };
    },
    reEncrypt: ({ source, target }) => {
      const plaintext = this.open(source);
      if (plaintext === null) return INVALID_CIPHERTEXT;
      try {
        return { ok: true, ciphertext: this.seal(target, plaintext) };
      } finally {
        plaintext.fill(0);
      }
    },
    generateDataKey: ({ key, bytes, context, withPlaintext }) => {
      const plaintext = randomBytesFromPool(bytes);
      const ciphertext = sealSymmetric(this.symmetric(key), plaintext, context);
      if (withPlaintext) return { ok: true, ciphertext, plaintext };
      plaintext.fill(0);
      return { ok: true, ciphertext };
    },
    generateDataKeyPair: async ({ key, pairSpec, context, withPlaintext }) => {
      const pair = await primitives.generateDataKeyPair(pairSpec);
      const privateKeyCiphertext = sealSymmetric(this.symmetric(key), pair.privateKey, context);
      if (withPlaintext) return { ok: true, privateKeyCiphertext, privateKeyPlaintext: pair.privateKey, publicKey: pair.publicKey };
      pair.privateKey.fill(0);
      return { ok: true, privateKeyCiphertext, publicKey: pair.publicKey };
    },
    sign: ({ key, algorithm, messageType, message }) =>
      ({ ok: true, signature: primitives.sign(this.loaded(key), algorithm, messageType, message) }),
    verify: ({ key, algorithm, messageType, message, signature }) =>
      ({ ok: true, valid: primitives.verify(this.loaded(key), algorithm, messageType, message, signature) }),
    generateMac: ({ key, algorithm, message }) =>
      ({ ok: true, mac: primitives.generateMac(this.loaded(key), algorithm, message) }),
    verifyMac: ({ key, algorithm, message, mac }) => {
      const expected = primitives.generateMac(this.loaded(key), algorithm, message);
      return { ok: true, valid: constantTimeEqual(expected, mac) };
    },
    deriveSharedSecret: ({ key, peerPublicKey }) =>
      ({ ok: true, sharedSecret: primitives.deriveSharedSecret(this.loaded(key), peerPublicKey) }),
    encapsulate: ({ key }) => ({ ok: true, ...primitives.encapsulate(this.loaded(key)) }),
    decapsulate: ({ key, ciphertext }) => ({ ok: true, sharedSecret: primitives.decapsulate(this.loaded(key), ciphertext) }),
  };

  /** Given material (seed file, import): checked against its spec (PrimitiveError otherwise), then wrapped. */
  private wrapGiven(keyId: string, materialId: string, spec: KeySpec, material: Uint8Array): { wrapped: Buffer; publicKey?: Buffer } {
    let publicKey: Buffer | undefined;
    if (spec === 'SYMMETRIC_DEFAULT') {
      if (material.length !== 32) throw new primitives.PrimitiveError('ValidationException', 'Symmetric key material must be 32 bytes.');
    } else {
      primitives.validateMaterial(spec, material);
      if (KEY_SPECS[spec].family !== 'hmac') publicKey = primitives.publicKeyOf(primitives.loadKey(spec, material));
    }
    return { wrapped: this.root.wrap(keyId, materialId, material), publicKey };
  }

  private seal(target: SealTarget, plaintext: Uint8Array): Buffer {
    if (target.kind === 'symmetric') {
      return sealSymmetric(this.symmetric(target.key), plaintext, target.context);
    }
    return primitives.rsaEncrypt(this.loaded(target.key), target.algorithm, plaintext);
  }

  private open(source: SealedInput): Buffer | null {
    if (source.kind === 'symmetric') return openSymmetric(this.symmetric(source.key), source.blob, source.context);
    try {
      return primitives.rsaDecrypt(this.loaded(source.key), source.algorithm, source.ciphertext);
    } catch (error) {
      if (error instanceof primitives.PrimitiveError && error.code === 'InvalidCiphertextException') return null;
      throw error;
    }
  }

  private usable(ref: KeyRef): UsableKey {
    return this.cache.getOrLoad(ref.keyId, ref.materialId, () => loadUsable(this.root, ref));
  }

  private symmetric(ref: KeyRef): SymmetricKey {
    const key = this.usable(ref).symmetric;
    if (key === undefined) throw new primitives.PrimitiveError('InvalidKeyUsageException', 'Key is not symmetric.');
    return key;
  }

  private loaded(ref: KeyRef): primitives.LoadedKey {
    const key = this.usable(ref).loaded;
    if (key === undefined) throw new primitives.PrimitiveError('InvalidKeyUsageException', 'Key is symmetric.');
    return key;
  }
}

function loadUsable(root: RootKey, ref: KeyRef): UsableKey {
  const material = root.unwrap(ref.keyId, ref.materialId, ref.wrapped);
  try {
    return isSymmetric(ref.spec)
      ? { keyId: ref.keyId, symmetric: { secret: createSecretKey(material), header: blobHeader(ref.keyId, ref.materialId) } }
      : loadedUsable(ref.keyId, primitives.loadKey(ref.spec, material));
  } finally {
    material.fill(0);
  }
}

/** The cache wipes what it drops: a symmetric key is a KeyObject, but some asymmetric keys hold raw bytes. */
const loadedUsable = (keyId: string, loaded: primitives.LoadedKey): UsableKey =>
  ({ keyId, loaded, wipe: () => primitives.wipeKey(loaded) });

const isSymmetric = (spec: KeySpec): boolean => spec === 'SYMMETRIC_DEFAULT';

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function toFailure(error: unknown): KmsFailure {
  if (error instanceof primitives.PrimitiveError) return fail(error.code, error.message);
  if (error instanceof Pkcs11TokenError) {
    // The HSM, not the request: say so, with the token's own return value, so the operator knows where to look.
    console.error(`kms-engine worker: the root key's PKCS#11 token failed: ${error.message}; requests that need the root key fail until the token answers again and the server is restarted`);
    return fail('KMSInternalException', 'The request failed because of an internal error.');
  }
  // Unexpected: log where, never the error text, which could quote key bytes; answer the class of failure only.
  console.error(`kms-engine worker: internal error: ${error instanceof Error ? error.name : typeof error}`,
    error instanceof Error ? error.stack?.split('\n').slice(1, 4).join(' | ') : '');
  return fail('KMSInternalException', 'The request failed because of an internal error.');
}
