// The marker that makes hang-worker.ts never answer: shared by the stand-in worker and worker-hang.test.ts (which
// must not import the worker module itself: it opens the root key from workerData at import).

/** An encrypt job whose plaintext starts with this never comes back from its worker thread. */
export const HANG_PREFIX = 'hang-this-worker:';

/** How the job hangs: a promise nobody settles (the thread stays idle), or a loop that holds the thread busy. */
export type HangMode = 'never' | 'spin';
