// ML-DSA side by side, single thread, in-process: @noble/post-quantum (pure JS) against liboqs compiled to
// WebAssembly (@oqs/liboqs-js, what the engine uses for MessageType RAW: workers/primitives/ml-dsa-compiled.ts),
// and the engine's own sign/verify on top of it (request checks included). Also the cost of expanding a
// stored seed into a key pair (@noble keygen: paid once per key load, then the worker's key cache holds it).
// Every row is the best of five rounds: the fastest round is the code's cost, slower ones the noisy machine.
// Before measuring, each implementation's signature is checked by the other one.
//
//   npm run build && node dist/bench/micro/ml-dsa.js            (BENCH_MS=500 per round by default)
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { generateMaterial, loadKey, sign, verify } from '../../workers/primitives/index.js';
import { compiledMlDsa, mlDsaCompiledReady, mlDsaRawBackend } from '../../workers/primitives/ml-dsa-compiled.js';

const ROUND_MS = Number(process.env['BENCH_MS'] ?? 500);
const ROUNDS = 5;

/** Best-of-rounds operations per second. */
function opsPerSecond(run: () => unknown): number {
  for (let i = 0; i < 3; i++) run(); // warm-up
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0;
    const start = performance.now();
    let elapsed = 0;
    while ((elapsed = performance.now() - start) < ROUND_MS) {
      run();
      count++;
    }
    best = Math.max(best, count / (elapsed / 1000));
  }
  return Math.round(best);
}

const cell = (value: number | string) => String(value).padStart(10);
const ratio = (fast: number, slow: number) => `${(fast / slow).toFixed(1)}x`;

await mlDsaCompiledReady;
console.log(`ML-DSA RAW backend in this process: ${mlDsaRawBackend()}; message 100 bytes; ops/s, best of ${ROUNDS} x ${ROUND_MS} ms`);
console.log(`${'parameter set'.padEnd(14)}${cell('operation')}${cell('@noble')}${cell('liboqs')}${cell('engine')}${cell('speed-up')}`);

const message = Buffer.alloc(100, 0x42);
for (const [spec, noble] of [['ML_DSA_44', ml_dsa44], ['ML_DSA_65', ml_dsa65], ['ML_DSA_87', ml_dsa87]] as const) {
  const compiled = compiledMlDsa(spec);
  if (!compiled) throw new Error('@oqs/liboqs-js did not load: see the warning above');
  const seed = new Uint8Array(32).fill(7);
  const { secretKey, publicKey } = noble.keygen(seed);
  const key = loadKey(spec, (await generateMaterial(spec)).material);

  const nobleSignature = noble.sign(message, secretKey);
  const compiledSignature = compiled.sign(secretKey, message);
  if (!noble.verify(compiledSignature, message, publicKey) || !compiled.verify(publicKey, message, nobleSignature)) {
    throw new Error(`${spec}: @noble and liboqs do not verify each other's signatures`);
  }
  const engineSignature = sign(key, 'ML_DSA_SHAKE_256', 'RAW', message);

  const rows = [
    ['sign', opsPerSecond(() => noble.sign(message, secretKey)), opsPerSecond(() => compiled.sign(secretKey, message)),
      opsPerSecond(() => sign(key, 'ML_DSA_SHAKE_256', 'RAW', message))],
    ['verify', opsPerSecond(() => noble.verify(nobleSignature, message, publicKey)), opsPerSecond(() => compiled.verify(publicKey, message, nobleSignature)),
      opsPerSecond(() => verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, engineSignature))],
  ] as const;
  for (const [operation, nobleOps, compiledOps, engineOps] of rows) {
    console.log(`${spec.padEnd(14)}${cell(operation)}${cell(nobleOps)}${cell(compiledOps)}${cell(engineOps)}${cell(ratio(compiledOps, nobleOps))}`);
  }
  console.log(`${spec.padEnd(14)}${cell('keygen')}${cell(opsPerSecond(() => noble.keygen(seed)))}${cell('-')}${cell('-')}${cell('-')}`);
}
