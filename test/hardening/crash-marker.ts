// The marker that makes crash-worker.ts die: shared by the stand-in worker and worker-crash.test.ts (which must
// not import the worker module itself: it opens the root key from workerData at import).

/** An encrypt job whose plaintext starts with this takes its worker thread down. */
export const CRASH_PREFIX = 'crash-this-worker:';

/** How the worker dies: process.exit() in a worker ends its thread; an uncaught exception kills it too. */
export type CrashMode = 'exit' | 'throw';
