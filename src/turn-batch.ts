// The turn batch: every KMS request whose body arrived during one event-loop turn goes through the pipeline
// back to back, at the end of that turn (setImmediate), instead of each one right after Node parsed it.
//
// Why: between two requests, Node's HTTP parser, the socket streams and Hono run a lot of code of their own, so
// the pipeline (SigV4, model decoding, key resolution, crypto, audit record) used to start cold every time and
// ran two to three times slower than the same calls in a loop (bench/micro/hot-path.ts vs --cpu-prof of the
// server). Run back to back, each stage finds its code and data still in the CPU caches, and the awaits of all
// the batch's requests resume together. Measured side by side (bench/README.md, "One batch per event-loop
// turn"): 9-32% more Encrypt requests per server CPU-second, 6% more Sign P-256, and at a fixed 4,000 req/s a
// lower p99, since the same load leaves the main thread more idle time.
//
// A lone request waits for nothing: the turn that read its body ends right after, and setImmediate runs then.

export class TurnBatch {
  #queue: Array<() => void> = [];
  #scheduled = false;

  /** Starts `task` at the end of this turn, after the tasks queued before it; settles as the task does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(() => {
        try {
          task().then(resolve, reject);
        } catch (error) {
          reject(error); // thrown before its first await: that task fails, the rest of the batch still runs
        }
      });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#drain);
      }
    });
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const start of queue) start();
  };
}
