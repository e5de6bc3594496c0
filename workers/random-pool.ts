// Bulk randomness: one randomFillSync per 16 KiB instead of one randomBytes call per IV or data key. About half
// of a small AES-GCM encrypt was randomBytes(12) (ceilings.md); drawing from a pool halves it. Each draw is
// copied out and its bytes in the pool overwritten, so no two callers ever see the same bytes.
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 16 * 1024;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let offset = POOL_BYTES;

export function randomBytesFromPool(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  randomInto(out);
  return out;
}

export function randomInto(target: Buffer): void {
  if (target.length > POOL_BYTES / 4) {
    randomFillSync(target);
    return;
  }
  if (offset + target.length > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(target, 0, offset, offset + target.length);
  pool.fill(0, offset, offset + target.length);
  offset += target.length;
}
