// The run-wide stop signal (Ctrl-C, cli.ts) as each measured segment sees it. A segment's listener is removed
// when the segment ends: one signal serves every segment of a run, and Node warns of a leak from the 11th
// listener on (a --compare run of 6 rounds has 12 segments).

/** Calls `handler` now if `signal` is already aborted, else when it is; returns what undoes the subscription. */
export function onStop(signal: AbortSignal | undefined, handler: () => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    handler();
    return () => {};
  }
  signal.addEventListener('abort', handler, { once: true });
  return () => signal.removeEventListener('abort', handler);
}
