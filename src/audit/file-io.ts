// The audit log's appends, as one replaceable object: tests fail a write on purpose through it.
import { writeSync } from 'node:fs';

export const logFile = {
  /** write(2) at the end of an O_APPEND file; returns the bytes written. */
  append(fd: number, bytes: Buffer, offset: number, length: number): number {
    return writeSync(fd, bytes, offset, length);
  },
};
