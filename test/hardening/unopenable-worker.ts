// A test stand-in for the crypto worker whose module throws while loading, and says so, as the real one does when its
// root key will not open (a token gone or refusing its session, two keys under one label) after the main thread's own
// check passed. Loaded by CryptoPool through its workerFile option (worker-load-failure.test.ts); runs compiled,
// from dist/test/hardening/unopenable-worker.js.
import { announceLoadFailure } from '../../workers/loaded.js';

const failure = new Error('KMS_ROOT_KEY: the token holds more than one secret key labelled \'kms-root\'');
announceLoadFailure(failure);
throw failure;

export default function runBatch(): never {
  throw new Error('unreachable: the module never loads');
}
