// A point in an event-loop turn that several parts of the pipeline share: right after the promise jobs of the
// current callback have all run, before the event loop moves on. The requests of one turn batch (turn-batch.ts)
// each reach their audit record, or their crypto job, after a different number of awaits; work collected up to
// this point leaves in one write or one pool task, in the same iteration. (setImmediate would wait for the next
// iteration, behind the poll phase's parsing of whatever arrived meanwhile.)
//
// Node runs process.nextTick callbacks before promise jobs when a callback returns, but a tick queued from a
// promise job waits until the microtask queue is empty: hence the tick is queued from one.

/** Runs `task` once the promise jobs queued so far, and the ones they queue in turn, have all run. */
const afterPromiseJobs = (task: () => void): void => queueMicrotask(() => process.nextTick(task));

/**
 * A function that runs `task` once the current promise jobs have run (afterPromiseJobs), however often it is
 * called before then: the audit log's batch write and the crypto pool's pump each go out once per callback.
 */
export function onceAfterPromiseJobs(task: () => void): () => void {
  let scheduled = false;
  const run = (): void => {
    scheduled = false;
    task();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    afterPromiseJobs(run);
  };
}
