// Jobs cross to a worker by structured clone, and cloning a typed-array view copies its WHOLE ArrayBuffer. Most
// small Buffers in Node (Buffer.from(base64) of a message, a Buffer.concat, anything from allocUnsafe under
// 4 KiB) are views of a shared 8 KiB allocation pool: a Sign P-256 job (a 178-byte wrapped key, a 1 KiB
// message) crossed as 2 x 8 KiB, and the worker allocated and collected as much. Posting a 16-byte pooled Buffer
// on a MessagePort costs 13.5 us here, the same bytes in an ArrayBuffer of their own 1.2 us. So before a job
// crosses, every view that does not span its buffer is copied into one of its own (tens of nanoseconds). The
// whole server, side by side with and without this, was within the machine's noise (0.976 and 1.02 on Sign
// P-256): the hop's cost is mostly the wake-up, not the bytes; this keeps 15 KiB per job out of both heaps.

/** Nesting the job shapes use (job -> target/source -> key -> wrapped); deeper values are left as they are. */
const MAX_DEPTH = 3;

const sharesItsBuffer = (view: ArrayBufferView): boolean => view.byteOffset !== 0 || view.byteLength !== view.buffer.byteLength;

/**
 * `value` with each Uint8Array that is a slice of a larger ArrayBuffer replaced by a standalone copy. Objects on
 * the way are copied only when something inside them changed; the caller's objects are never modified (a job's
 * key reference may be shared with the key cache).
 */
export function withStandaloneViews<T>(value: T, depth = 0): T {
  if (value instanceof Uint8Array) return (sharesItsBuffer(value) ? new Uint8Array(value) : value) as T;
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  let copy: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key in source) {
    const member = source[key];
    if (member === null || typeof member !== 'object') continue;
    const replaced = withStandaloneViews(member, depth + 1);
    if (replaced !== member) (copy ??= { ...source })[key] = replaced;
  }
  return (copy ?? value) as T;
}
