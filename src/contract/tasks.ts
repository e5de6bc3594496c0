// The whole main-thread <-> worker contract: the jobs a worker runs and what each returns. Jobs travel in
// batches (one pool task carries up to KMS_BATCH_SIZE jobs); a lone job is a batch of one.
// Workers answer with data, never thrown classes: { ok: false, code, message } survives structuredClone.
// Imported by both threads: pure types, no I/O.
import type { KmsFailure } from './errors.js';
import type { EncryptionContext } from './encryption-context.js';
import type { WrappingAlgorithm, WrappingKeySpec } from './import-token.js';
import type {
  DataKeyPairSpec, EncryptionAlgorithm, KeySpec, MacAlgorithm, MessageType, SigningAlgorithm,
} from './key-specs.js';

/** One version of a key's material, still wrapped under the root key; the worker unwraps and caches it. */
export interface KeyRef {
  keyId: string;
  materialId: string;
  spec: KeySpec;
  wrapped: Uint8Array;
}

/** A ciphertext to open during ReEncrypt: symmetric blobs carry their context, RSA ones their algorithm. */
export type SealedInput =
  | { kind: 'symmetric'; key: KeyRef; blob: Uint8Array; context?: EncryptionContext }
  | { kind: 'rsa'; key: KeyRef; ciphertext: Uint8Array; algorithm: EncryptionAlgorithm };

export type SealTarget =
  | { kind: 'symmetric'; key: KeyRef; context?: EncryptionContext }
  | { kind: 'rsa'; key: KeyRef; algorithm: EncryptionAlgorithm };

interface JobSpecs {
  /** New key material made and wrapped inside the worker: plaintext material never reaches the main thread. */
  generateMaterial: {
    in: { keyId: string; materialId: string; spec: KeySpec };
    out: { wrapped: Uint8Array; publicKey?: Uint8Array };
  };
  /** Given material (seed file, import) checked against its spec, then wrapped. */
  wrapMaterial: {
    in: { keyId: string; materialId: string; spec: KeySpec; material: Uint8Array };
    out: { wrapped: Uint8Array; publicKey?: Uint8Array };
  };
  /** BYOK: a fresh RSA wrapping key pair; its private half leaves the worker only sealed inside the ImportToken. */
  importParameters: {
    in: { keyId: string; wrappingKeySpec: WrappingKeySpec; wrappingAlgorithm: WrappingAlgorithm; validTo: number };
    out: { publicKey: Uint8Array; importToken: Uint8Array };
  };
  /**
   * BYOK: opens the ImportToken, unwraps EncryptedKeyMaterial with its private key, checks the material as
   * wrapMaterial does and wraps it under the root key. The material id is derived from the material.
   */
  unwrapImport: {
    in: { keyId: string; spec: KeySpec; importToken: Uint8Array; encryptedMaterial: Uint8Array };
    out: { materialId: string; wrapped: Uint8Array; publicKey?: Uint8Array };
  };
  encrypt: { in: { target: SealTarget; plaintext: Uint8Array }; out: { ciphertext: Uint8Array } };
  decrypt: { in: { source: SealedInput }; out: { plaintext: Uint8Array } };
  reEncrypt: { in: { source: SealedInput; target: SealTarget }; out: { ciphertext: Uint8Array } };
  generateDataKey: {
    in: { key: KeyRef; bytes: number; context?: EncryptionContext; withPlaintext: boolean };
    out: { ciphertext: Uint8Array; plaintext?: Uint8Array };
  };
  generateDataKeyPair: {
    in: { key: KeyRef; pairSpec: DataKeyPairSpec; context?: EncryptionContext; withPlaintext: boolean };
    out: { privateKeyCiphertext: Uint8Array; privateKeyPlaintext?: Uint8Array; publicKey: Uint8Array };
  };
  sign: {
    in: { key: KeyRef; algorithm: SigningAlgorithm; messageType: MessageType; message: Uint8Array };
    out: { signature: Uint8Array };
  };
  verify: {
    in: { key: KeyRef; algorithm: SigningAlgorithm; messageType: MessageType; message: Uint8Array; signature: Uint8Array };
    out: { valid: boolean };
  };
  generateMac: { in: { key: KeyRef; algorithm: MacAlgorithm; message: Uint8Array }; out: { mac: Uint8Array } };
  verifyMac: {
    in: { key: KeyRef; algorithm: MacAlgorithm; message: Uint8Array; mac: Uint8Array };
    out: { valid: boolean };
  };
  deriveSharedSecret: { in: { key: KeyRef; peerPublicKey: Uint8Array }; out: { sharedSecret: Uint8Array } };
  encapsulate: { in: { key: KeyRef }; out: { sharedSecret: Uint8Array; ciphertext: Uint8Array } };
  decapsulate: { in: { key: KeyRef; ciphertext: Uint8Array }; out: { sharedSecret: Uint8Array } };
}

export type JobName = keyof JobSpecs;
export type JobInput<N extends JobName> = { op: N } & JobSpecs[N]['in'];
export type JobOutput<N extends JobName> = { ok: true } & JobSpecs[N]['out'];
export type Job = { [N in JobName]: JobInput<N> }[JobName];
export type JobResult<N extends JobName = JobName> = JobOutput<N> | KmsFailure;

/** What one pool task returns: a result per job, in order, plus key-cache counters for metrics. */
export interface BatchResult {
  results: JobResult[];
  cache: { hits: number; misses: number; evictions: number };
}

/** Message on the key-cache broadcast channel: drop every cached material of these keys. */
export interface EvictMessage {
  evict: string[];
}

export const KEY_CACHE_CHANNEL = 'kms-engine:key-cache';

/** Each crypto worker posts once on this channel when its module graph has finished loading. */
export const WORKER_READY_CHANNEL = 'kms-engine:worker-ready';
