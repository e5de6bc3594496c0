// A test stand-in for the crypto worker whose announcement that it has loaded arrives after Piscina's own ready
// message: its module finishes at once (so Piscina marks it ready and unrefs it) and it announces a little later.
// With the real worker the two messages travel on different channels and may cross in the same way. Loaded by
// CryptoPool through its workerFile option (worker-load-failure.test.ts); runs compiled, from
// dist/test/hardening/late-announcing-worker.js.
import { announceLoaded } from '../../workers/loaded.js';

setTimeout(announceLoaded, 300);

export default function runBatch(): never {
  throw new Error('not a real worker: it only announces itself');
}
