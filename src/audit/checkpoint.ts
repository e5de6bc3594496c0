// The checkpoint beside an audit log (`<log>.head`): the seq and hash of the newest record the writer knows it
// wrote. The chain alone cannot show that records were cut off the END of the log (the remaining prefix is a
// perfectly valid chain); comparing with the checkpoint can. It is one fixed-width line rewritten in place at
// offset 0, so an update is a single small pwrite and never leaves a half-old, half-new line of another length.
// What it does not protect against: someone who can truncate the log AND rewrite this file. Copying the
// checkpoint off the host (or scraping it as a metric) is what turns that into a detectable event.

import type { FileHandle } from 'node:fs/promises';

export interface Checkpoint {
  seq: number;
  hash: string;
}

const SEQ_WIDTH = 16;
const PATTERN = /^kms-engine-audit-head v1 seq=(\d{16}) hash=([0-9a-f]{64})\n$/;

export const checkpointPath = (logPath: string): string => `${logPath}.head`;

export function formatCheckpoint(checkpoint: Checkpoint): string {
  return `kms-engine-audit-head v1 seq=${String(checkpoint.seq).padStart(SEQ_WIDTH, '0')} hash=${checkpoint.hash}\n`;
}

/** The checkpoint in `text`, or a reason it is unreadable. */
export function parseCheckpoint(text: string): Checkpoint | string {
  const match = PATTERN.exec(text);
  if (match === null) return 'checkpoint file is malformed';
  return { seq: Number(match[1]), hash: match[2]! };
}

/** Overwrites the checkpoint in place (the handle must not be in append mode: positional writes are ignored there). */
export async function writeCheckpoint(handle: FileHandle, checkpoint: Checkpoint): Promise<void> {
  const bytes = Buffer.from(formatCheckpoint(checkpoint), 'ascii');
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
    offset += bytesWritten;
  }
}
