// Compiled ML-DSA (FIPS 204) for the hot path: liboqs (Open Quantum Safe) built to WebAssembly, npm package
// @oqs/liboqs-js, about 10x @noble/post-quantum single-threaded (bench/micro/ml-dsa.ts).
//
// What it is used for (ml-dsa.ts decides): pure ML-DSA sign and verify with an empty context, i.e. KMS
// MessageType RAW. liboqs's OQS_SIG_sign for ML-DSA is FIPS 204 ML-DSA.Sign with ctx = "" and draws the
// 32-byte `rnd` afresh for every signature (node:crypto randomFillSync inside the WebAssembly runtime): hedged
// signing, FIPS 204's default. liboqs-js exposes neither keygen from a given seed nor external-mu signing, so
// key expansion (seed -> FIPS 204 skEncode/pkEncode) and EXTERNAL_MU stay on @noble; liboqs takes those
// encodings as they are.
//
// Why this one (measured side by side; the figures are in the report of bench/micro/ml-dsa.ts's commit):
//   - pqclean 0.8.1 (PQClean's C code as a node-gyp addon) verifies as fast but signs ~20% slower, adds ~40 s
//     of C compilation to every `npm ci`, and its upstream, PQClean, is retired and archived (2026): no more
//     fixes. liboqs is maintained by Open Quantum Safe (Linux Foundation PQCA).
//   - @oqs/liboqs-js ships prebuilt WebAssembly inside the npm tarball: no install script, nothing to compile
//     or download. It declares engines node >= 22 (the project runs Node 20.19): npm warns EBADENGINE, but the
//     ML-DSA modules use nothing newer than Node 20 (dynamic import, WebAssembly.instantiate, fs, node:crypto),
//     the version is pinned, and test/primitives/ml-dsa.test.ts checks it on the Node we run every time.
// If it cannot load, RAW falls back to @noble with a warning: slower, never wrong (liboqs.ts).
import { createMLDSA44, createMLDSA65, createMLDSA87 } from '@oqs/liboqs-js/sig';
import type { KeySpec } from '../../src/contract/key-specs.js';
import { asBuffer, compiledFamily, plain } from './liboqs.js';

/** The compiled implementation of one parameter set; keys and signatures in FIPS 204 encodings. */
export interface CompiledMlDsa {
  /** Hedged pure ML-DSA signature (empty context) with an skEncode'd secret key. */
  sign(secretKey: Uint8Array, message: Uint8Array): Buffer;
  /** Pure ML-DSA verification (empty context) with a pkEncode'd public key; the caller checks the length. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

const family = compiledFamily<CompiledMlDsa>('ML-DSA RAW signing', async () => {
  const [mlDsa44, mlDsa65, mlDsa87] = await Promise.all([createMLDSA44(), createMLDSA65(), createMLDSA87()]);
  const wrap = (impl: typeof mlDsa44): CompiledMlDsa => ({
    sign: (secretKey, message) => asBuffer(impl.sign(plain(message), plain(secretKey))),
    verify: (publicKey, message, signature) => impl.verify(plain(message), plain(signature), plain(publicKey)),
  });
  return { ML_DSA_44: wrap(mlDsa44), ML_DSA_65: wrap(mlDsa65), ML_DSA_87: wrap(mlDsa87) };
});

/**
 * Settles once the WebAssembly modules are instantiated (or failed to load); until then @noble/post-quantum
 * signs and verifies (the same results, slower, for the first ~15 ms of a thread's life).
 */
export const mlDsaCompiledReady: Promise<void> = family.ready;

/** Which implementation signs and verifies ML-DSA RAW messages in this process right now. */
export const mlDsaRawBackend = (): '@oqs/liboqs-js' | '@noble/post-quantum' => family.backend();

/** The compiled implementation for this ML-DSA parameter set, or undefined when liboqs is not (yet) loaded. */
export const compiledMlDsa = (spec: KeySpec): CompiledMlDsa | undefined => family.get(spec);
