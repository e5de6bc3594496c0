// Compiled ML-KEM (FIPS 203) for Encapsulate and Decapsulate: liboqs built to WebAssembly (@oqs/liboqs-js, the
// package ML-DSA already uses; why that one: ml-dsa-compiled.ts), 6-9x @noble/post-quantum single-threaded,
// measured here: encapsulate / decapsulate 47 / 49 us (ML-KEM-512), 63 / 72 (768), 89 / 105 (1024), against
// @noble's 321 / 346, 492 / 593, 775 / 961. Both take and give FIPS 203 encodings (ek, dk, ciphertext); liboqs
// draws the encapsulation's randomness from node:crypto. Key expansion from the stored seed stays on @noble
// (liboqs-js has no keygen from a given seed); it runs once per key per worker, into the key cache. Each
// library opens the other's ciphertexts and both answer a tampered one with the same implicit-rejection
// secret (test/primitives/ml-kem.test.ts). liboqs-js copies the decapsulation key into its heap for each call
// and frees it unwiped, as it does ML-DSA's signing key: that heap lives in the worker, beside the key cache.
import { createMLKEM1024, createMLKEM512, createMLKEM768 } from '@oqs/liboqs-js/kem';
import type { KeySpec } from '../../src/contract/key-specs.js';
import { asBuffer, compiledFamily, plain } from './liboqs.js';

export interface CompiledMlKem {
  encapsulate(publicKey: Uint8Array): { sharedSecret: Buffer; ciphertext: Buffer };
  /** The caller checks the ciphertext's length. */
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Buffer;
}

const family = compiledFamily<CompiledMlKem>('ML-KEM', async () => {
  const [mlKem512, mlKem768, mlKem1024] = await Promise.all([createMLKEM512(), createMLKEM768(), createMLKEM1024()]);
  const wrap = (impl: typeof mlKem512): CompiledMlKem => ({
    encapsulate: (publicKey) => {
      const { ciphertext, sharedSecret } = impl.encapsulate(plain(publicKey));
      return { ciphertext: asBuffer(ciphertext), sharedSecret: asBuffer(sharedSecret) };
    },
    decapsulate: (ciphertext, secretKey) => asBuffer(impl.decapsulate(plain(ciphertext), plain(secretKey))),
  });
  return { ML_KEM_512: wrap(mlKem512), ML_KEM_768: wrap(mlKem768), ML_KEM_1024: wrap(mlKem1024) };
});

export const mlKemCompiledReady: Promise<void> = family.ready;
export const mlKemBackend = (): '@oqs/liboqs-js' | '@noble/post-quantum' => family.backend();
export const compiledMlKem = (spec: KeySpec): CompiledMlKem | undefined => family.get(spec);
