// Compiled ML-DSA (FIPS 204) for the hot path: PQClean's portable C implementation through the `pqclean`
// npm package's native addon, about 10x @noble/post-quantum single-threaded (bench/micro/ml-dsa.ts).
//
// What it is used for (ml-dsa.ts decides): pure ML-DSA sign and verify with an empty context, i.e. KMS
// MessageType RAW. PQClean's crypto_sign_signature is crypto_sign_signature_ctx with ctx = "" and draws the
// 32-byte `rnd` from the OS (getrandom) on every call: hedged signing, FIPS 204 Algorithm 2's default.
// PQClean cannot generate a key from a given seed nor sign an external mu, so key expansion
// (seed -> FIPS 204 skEncode/pkEncode) and EXTERNAL_MU stay on @noble; PQClean takes those encodings as is.
//
// Why the addon file and not `require('pqclean')`: the package's entry point silently falls back to its
// WebAssembly build when the addon is missing, and that build's classic API is asynchronous. Loading
// build/Release/node_pqclean.node directly makes "compiled or not" an explicit, observable choice: when
// the addon cannot load (an install with --ignore-scripts, no compiler), ml-dsa.ts keeps using @noble.
// The addon is built from source at `npm ci` by node-gyp (package.json allowScripts) against the local
// Node headers (npm's nodedir), the same way as pkcs11js and better-sqlite3: nothing is fetched but the
// npm tarball. It is context-aware (node-addon-api), so every worker thread of the pool can load it.
import { createRequire } from 'node:module';
import type { KeySpec } from '../../src/contract/key-specs.js';

/** The compiled implementation of one parameter set; key and signature encodings are FIPS 204's. */
export interface CompiledMlDsa {
  /** Hedged pure ML-DSA signature (empty context) with an skEncode'd secret key. */
  sign(secretKey: Uint8Array, message: Uint8Array): Buffer;
  /** Pure ML-DSA verification (empty context) with a pkEncode'd public key; the caller checks the length. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

interface PqcleanAddon {
  /** The classic synchronous API of the addon (node_pqclean.cc, class Sign). */
  Sign: new (algorithm: 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87') => CompiledMlDsa;
}

function loadAddon(): PqcleanAddon | undefined {
  try {
    return createRequire(import.meta.url)('pqclean/build/Release/node_pqclean.node') as PqcleanAddon;
  } catch (error) {
    process.emitWarning(`ML-DSA RAW signing uses @noble/post-quantum (pure JS, about 10x slower): the pqclean addon did not load (${(error as Error).message}).`);
    return undefined;
  }
}

const addon = loadAddon();

/** Which implementation signs and verifies ML-DSA RAW messages in this process. */
export const mlDsaRawBackend: 'pqclean' | '@noble/post-quantum' = addon ? 'pqclean' : '@noble/post-quantum';

const COMPILED: Partial<Record<KeySpec, CompiledMlDsa>> = addon
  ? { ML_DSA_44: new addon.Sign('ml-dsa-44'), ML_DSA_65: new addon.Sign('ml-dsa-65'), ML_DSA_87: new addon.Sign('ml-dsa-87') }
  : {};

/** The compiled implementation for this ML-DSA parameter set, or undefined when the addon is not available. */
export const compiledMlDsa = (spec: KeySpec): CompiledMlDsa | undefined => COMPILED[spec];
