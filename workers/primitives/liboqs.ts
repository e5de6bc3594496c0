// Loading @oqs/liboqs-js (liboqs, Open Quantum Safe, built to WebAssembly) for the post-quantum hot paths,
// ML-DSA signatures (ml-dsa-compiled.ts) and ML-KEM encapsulation (ml-kem-compiled.ts): the modules are
// instantiated once per thread in the background, and until they are (or if they cannot load, with one
// warning) the caller uses @noble/post-quantum: the same results, slower.

/** liboqs-js accepts only exact Uint8Arrays (constructor name check), not Buffers: the same bytes, re-viewed. */
export const plain = (bytes: Uint8Array): Uint8Array =>
  bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A Buffer over liboqs's output, without copying. */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export interface CompiledFamily<T> {
  /** Settles once the modules are instantiated, or failed to load. */
  readonly ready: Promise<void>;
  /** The compiled implementation of this parameter set, or undefined while (or if) liboqs is not loaded. */
  get(spec: string): T | undefined;
  backend(): '@oqs/liboqs-js' | '@noble/post-quantum';
}

/**
 * Starts instantiating a family's modules (about 15 ms and 3 MB per module, measured for ML-DSA). Not a
 * top-level await: Piscina loads the worker module with require(), which Node 20 grants only to module graphs
 * without one. `fallback` says, in the warning, what runs on @noble instead.
 */
export function compiledFamily<T>(fallback: string, instantiate: () => Promise<Record<string, T>>): CompiledFamily<T> {
  let loaded: Record<string, T> | undefined;
  const ready = instantiate().then(
    (sets) => { loaded = sets; },
    (error: unknown) => { process.emitWarning(`${fallback} uses @noble/post-quantum (pure JS, slower): liboqs did not load (${(error as Error).message}).`); },
  );
  return { ready, get: (spec) => loaded?.[spec], backend: () => (loaded ? '@oqs/liboqs-js' : '@noble/post-quantum') };
}
