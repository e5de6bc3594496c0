// A test stand-in for the crypto worker whose module graph takes LOAD_MS to load (slow-start.ts runs first):
// CryptoPool.close() must wait for it rather than terminate the thread mid-load. Runs compiled, from
// dist/test/core/slow-worker.js.
import './slow-start.js';
import runRealBatch from '../../workers/crypto.worker.js';

export default runRealBatch;
