// The tamper-evident audit log: JSON lines, one CloudTrail record per line, hash-chained (chain.ts), written
// with group commit.
//
// Group commit. append() queues the record and returns a promise; everything queued until the current callback
// and the promise jobs it set off have all run (after-promise-jobs.ts) is serialized, chained and written with
// ONE write call, and all of those promises settle together: for a turn batch (turn-batch.ts), the whole
// batch, in the event-loop iteration that ran it. While that write is in flight, new records queue for the
// next batch, so a request waits for at most the write in flight plus its own. If the write fails, every
// append of the batch rejects (a KMSInternalException for the client: a call must fail rather than go
// unrecorded) and the file is truncated back to the last complete batch so the chain stays intact; if even
// that fails the log refuses all further appends.
//
// Durability. "Written" means handed to the kernel with write(2): it survives a crash of the process. With
// `sync: true` each batch is also fdatasync'ed (survives power loss), at the cost of a disk flush per batch.
//
// Restarts. open() reads the last line and continues its chain. A torn last line (the process died mid-write)
// is truncated and the truncation is itself recorded as the first record after the restart (byte count and
// SHA-256 of what was cut, never the bytes). A last complete line that does not verify, or a checkpoint
// ahead of the log, refuses to open: tamper evidence that heals itself would be no evidence.
//
// Why SHA-256 and not an HMAC keyed from a file beside the log: a keyed chain only resists someone who can
// write the log but not read the key, and on one host those are the same person (the service account).
// It would also make the log unverifiable by anyone who does not hold the key, and unverifiable forever if
// the key file is lost. A public hash chain (as CloudTrail's own SHA-256 digest chain) lets any auditor check
// a copy with nothing but the file. What it detects:
//  - an edited, inserted, deleted or reordered record, unless every later record is rewritten too;
//  - records cut off the end, by comparing with the checkpoint (checkpoint.ts);
//  - records cut off the start (seq 1 must be first).
// What it cannot detect on its own: a rewrite of the whole chain from the edit onwards plus the checkpoint.
// Anchoring the checkpoint's hash off the host (backup, metrics scrape, ticket) closes that gap.

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { onceAfterPromiseJobs } from '../after-promise-jobs.js';
import { makeDirectory } from '../make-directory.js';
import { KmsError } from '../protocol/errors.js';
import { KMS_INTERNAL_MESSAGE } from '../realism/messages.js';
import { logFile } from './file-io.js';
import { appendChainedLine, GENESIS_HASH, LineBuffer, readLink, recomputeHash } from './chain.js';
import { checkpointPath, parseCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { buildServiceEventRecord, type AuditRecord } from './record.js';

export interface AuditLogOptions {
  /** Stamped into every line's chain (`chain.node`) so lines from different nodes cannot be mixed unnoticed. */
  nodeId?: string;
  /** fdatasync every batch before its appends resolve. Default false (write(2) only). */
  sync?: boolean;
  /** Region and account of the record the log writes about itself after truncating a torn line. */
  region?: string;
  accountId?: string;
}

interface Waiter {
  readonly record: AuditRecord;
  readonly enqueuedAt: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const TAIL_CHUNK = 64 * 1024;
/** A batch buffer grown past this by a burst is dropped after its write rather than kept. */
const MAX_KEPT_LINE_BUFFER = 1024 * 1024;
/** How far the checkpoint may trail the log while it runs (close() brings it level). */
const CHECKPOINT_INTERVAL_MS = 100;

/** A failed write's errno name (ENOSPC, EROFS, EIO): never its message, which may name more than the cause. */
const errorCode = (error: unknown): string => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : typeof error;
};

/** The client-facing failure of a call whose audit record could not be written (cause kept for operators). */
function auditWriteFailure(cause: unknown): KmsError {
  const error = new KmsError('KMSInternalException', KMS_INTERNAL_MESSAGE);
  error.cause = cause;
  return error;
}

export class AuditLog {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #headHandle: FileHandle;
  readonly #nodeId: string | undefined;
  readonly #sync: boolean;
  /** The last record known to be written, and the file size after it. */
  #seq: number;
  #hash: string;
  #size: number;
  #queue: Waiter[] = [];
  #inFlight: Waiter[] = [];
  /** Where each batch's lines are assembled (chain.ts appendChainedLine), then written from. */
  #lines = new LineBuffer();
  #writing: Promise<void> | undefined;
  /** Writes what is queued once this callback's promise jobs have run (after-promise-jobs.ts). */
  readonly #scheduleFlush = onceAfterPromiseJobs(() => this.#flush());
  #checkpointWriting: Promise<void> | undefined;
  #checkpointDirty = false;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Set when the file could not be restored after a failed write: the log is unusable. */
  #broken: Error | undefined;
  /**
   * Whether the last batch failed: an operator learns of a full disk or a read-only volume from one line when
   * writes start failing and one when they succeed again, not from the clients' 500s, nor a line per call.
   */
  #failing = false;

  private constructor(path: string, handle: FileHandle, headHandle: FileHandle, tail: Checkpoint, size: number, opts: AuditLogOptions) {
    this.path = path;
    this.#handle = handle;
    this.#headHandle = headHandle;
    this.#seq = tail.seq;
    this.#hash = tail.hash;
    this.#size = size;
    this.#nodeId = opts.nodeId;
    this.#sync = opts.sync ?? false;
  }

  /** Opens (creating if needed) the log at `path` and continues its chain. */
  static async open(path: string, opts: AuditLogOptions = {}): Promise<AuditLog> {
    // Owner only, as KMS_DATA_DIR: in a directory others may write, anyone could remove or replace the log and
    // its checkpoint (a KMS_AUDIT_LOG outside KMS_DATA_DIR, created under a permissive umask, was 0777).
    makeDirectory(dirname(path), 0o700);
    const handle = await open(path, 'a+', 0o600);
    let headHandle: FileHandle | undefined;
    try {
      const { size } = await handle.stat();
      const tail = await locateTail(handle, size);
      const last = lastLink(path, tail.lastLine);
      headHandle = await openCheckpoint(path, last);
      // Only once the log is known to be intact up to the torn bytes: a refused open leaves the file as found.
      if (tail.tornBytes > 0) await handle.truncate(tail.completeSize);
      const log = new AuditLog(path, handle, headHandle, last, tail.completeSize, opts);
      if (tail.tornBytes > 0) {
        await log.append(buildServiceEventRecord({
          eventName: 'AuditLogTruncated',
          eventTime: new Date(),
          region: opts.region ?? '',
          accountId: opts.accountId ?? '',
          additionalEventData: { truncatedBytes: tail.tornBytes, truncatedSha256: tail.tornSha256, afterSeq: last.seq },
          ...(opts.nodeId !== undefined ? { nodeId: opts.nodeId } : {}),
        }));
      } else if (size > 0) {
        // Creates a missing checkpoint, or refreshes one that lagged when the last run ended.
        log.#scheduleCheckpoint();
      }
      return log;
    } catch (error) {
      await headHandle?.close();
      await handle.close();
      throw error;
    }
  }

  /** Queues one record; resolves once it is written, rejects (KMSInternalException) if it could not be. */
  append(record: AuditRecord): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`audit log ${this.path} is closed`));
    if (this.#broken !== undefined) return Promise.reject(auditWriteFailure(this.#broken));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, enqueuedAt: performance.now(), resolve, reject });
      if (this.#writing === undefined) this.#scheduleFlush();
    });
  }

  /** Records queued or being written. */
  pending(): number {
    return this.#queue.length + this.#inFlight.length;
  }

  /** Age in seconds of the oldest record not yet written; 0 when everything is written. */
  lagSeconds(): number {
    const oldest = this.#inFlight[0] ?? this.#queue[0];
    return oldest === undefined ? 0 : (performance.now() - oldest.enqueuedAt) / 1000;
  }

  /** The newest written record: what the checkpoint file holds once it catches up. */
  head(): Checkpoint {
    return { seq: this.#seq, hash: this.#hash };
  }

  /** Writes everything queued, brings the checkpoint up to date, and closes the files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#writing !== undefined || this.#queue.length > 0) {
      if (this.#writing === undefined) this.#flush();
      await this.#writing?.catch(() => undefined);
    }
    if (this.#checkpointTimer !== undefined) {
      clearTimeout(this.#checkpointTimer);
      this.#checkpointTimer = undefined;
      this.#checkpointDirty = true;
    }
    while (this.#checkpointWriting !== undefined) await this.#checkpointWriting;
    if (this.#checkpointDirty) this.#writeCheckpointNow();
    while (this.#checkpointWriting !== undefined) await this.#checkpointWriting;
    await this.#headHandle.close();
    await this.#handle.close();
  }

  #flush(): void {
    if (this.#writing !== undefined || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    const out = this.#lines;
    out.length = 0;
    const written: Waiter[] = [];
    let seq = this.#seq;
    let hash = this.#hash;
    for (const waiter of batch) {
      const lineStart = out.length;
      try {
        const link = appendChainedLine(out, waiter.record, seq + 1, hash, this.#nodeId);
        written.push(waiter);
        seq = link.seq;
        hash = link.hash;
      } catch (error) {
        // An unserializable record (a programming error) fails its own call only.
        out.length = lineStart;
        waiter.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (written.length === 0) return;
    this.#inFlight = written;
    // A view of the reused buffer: no other batch is assembled until this write has settled (#writing).
    const bytes = out.bytes.subarray(0, out.length);
    this.#writing = this.#write(bytes).then(
      () => {
        this.#seq = seq;
        this.#hash = hash;
        this.#size += bytes.length;
        this.#inFlight = [];
        for (const waiter of written) waiter.resolve();
        this.#scheduleCheckpoint();
        if (this.#failing) {
          this.#failing = false;
          console.error(`kms-engine: audit log ${this.path} is written again`);
        }
      },
      async (error: unknown) => {
        if (!this.#failing) {
          this.#failing = true;
          console.error(`kms-engine: audit log ${this.path} cannot be written (${errorCode(error)}): `
            + 'calls fail with KMSInternalException until it can');
        }
        await this.#rollBack(error);
        this.#inFlight = [];
        const failure = auditWriteFailure(error);
        for (const waiter of written) waiter.reject(failure);
        if (this.#broken !== undefined) for (const waiter of this.#queue.splice(0)) waiter.reject(failure);
      },
    ).finally(() => {
      this.#writing = undefined;
      // A burst's buffer is not kept for ever: past MAX_KEPT_LINE_BUFFER the next batch starts a small one.
      if (out.bytes.length > MAX_KEPT_LINE_BUFFER) this.#lines = new LineBuffer();
      // Records that queued behind this write go out now, as the next batch.
      if (this.#queue.length > 0) this.#flush();
    });
  }

  /**
   * Appends one batch. Without fdatasync the write goes to the page cache in a few microseconds, so it is made
   * synchronously: a thread-pool write costs two cross-thread wake-ups per batch, which at moderate request
   * rates (batches of one or two records) cost more CPU than the record itself. With `sync`, the fdatasync can
   * take milliseconds and stays off the event loop.
   */
  async #write(bytes: Buffer): Promise<void> {
    if (!this.#sync) {
      for (let offset = 0; offset < bytes.length;) offset += logFile.append(this.#handle.fd, bytes, offset, bytes.length - offset);
      return;
    }
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.#handle.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
    await this.#handle.datasync();
  }

  /** Cuts a partly written batch off the file so the next batch continues an intact chain. */
  async #rollBack(cause: unknown): Promise<void> {
    try {
      await this.#handle.truncate(this.#size);
    } catch (truncateError) {
      this.#broken = new Error(`audit log ${this.path} could not be restored after a failed write`, { cause: [cause, truncateError] });
    }
  }

  /**
   * Rewrites the checkpoint after the fact: appends never wait for it, and batches within CHECKPOINT_INTERVAL_MS
   * coalesce into one write (close() writes the last one at once).
   */
  #scheduleCheckpoint(): void {
    if (this.#checkpointWriting !== undefined || this.#checkpointTimer !== undefined) {
      this.#checkpointDirty = true;
      return;
    }
    if (!this.#closed) {
      this.#checkpointTimer = setTimeout(() => {
        this.#checkpointTimer = undefined;
        this.#writeCheckpointNow();
      }, CHECKPOINT_INTERVAL_MS);
      this.#checkpointTimer.unref();
      return;
    }
    this.#writeCheckpointNow();
  }

  #writeCheckpointNow(): void {
    this.#checkpointDirty = false;
    this.#checkpointWriting = writeCheckpoint(this.#headHandle, this.head()).then(
      () => undefined,
      (error: unknown) => {
        process.emitWarning(`audit checkpoint ${checkpointPath(this.path)} could not be written: ${String(error)}`);
      },
    ).finally(() => {
      this.#checkpointWriting = undefined;
      if (this.#checkpointDirty) this.#scheduleCheckpoint();
    });
  }
}

interface Tail {
  /** Bytes up to and including the last newline. */
  completeSize: number;
  /** The last complete line (without its newline), if any. */
  lastLine: Buffer | undefined;
  tornBytes: number;
  tornSha256: string | undefined;
}

/** Positions of the last newline and the one before it (-1 when absent). */
function lastTwoNewlines(buffer: Buffer): [number, number] {
  const last = buffer.lastIndexOf(0x0a);
  return [last, last > 0 ? buffer.lastIndexOf(0x0a, last - 1) : -1];
}

/** Finds the last complete line and any torn bytes after it, reading backwards from the end. */
async function locateTail(handle: FileHandle, size: number): Promise<Tail> {
  let start = size;
  let tail = Buffer.alloc(0);
  let [lastNewline, previousNewline] = [-1, -1];
  // Read until the buffer holds the last line's end and the newline before it, or reaches the start.
  while (start > 0 && previousNewline < 0) {
    const length = Math.min(TAIL_CHUNK, start);
    start -= length;
    const chunk = Buffer.alloc(length);
    await handle.read(chunk, 0, length, start);
    tail = Buffer.concat([chunk, tail]);
    [lastNewline, previousNewline] = lastTwoNewlines(tail);
  }
  const torn = tail.subarray(lastNewline + 1);
  return {
    completeSize: start + lastNewline + 1,
    lastLine: lastNewline < 0 ? undefined : tail.subarray(previousNewline + 1, lastNewline),
    tornBytes: torn.length,
    tornSha256: torn.length > 0 ? sha256(torn) : undefined,
  };
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** The chain position the next record continues from; throws if the last complete line does not verify. */
function lastLink(path: string, lastLine: Buffer | undefined): Checkpoint {
  if (lastLine === undefined) return { seq: 0, hash: GENESIS_HASH };
  const refuse = (reason: string): never => {
    throw new Error(`audit log ${path}: the last record is not intact (${reason}); run kms-engine audit verify ${path}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(lastLine.toString('utf8'));
  } catch {
    return refuse('not valid JSON');
  }
  const link = readLink(parsed);
  if (typeof link === 'string') return refuse(link);
  if (recomputeHash(parsed as Record<string, unknown>, link) !== link.hash) return refuse('content does not match its hash');
  return { seq: link.seq, hash: link.hash };
}

/** Opens the checkpoint for in-place rewrites, refusing a log that ends before the checkpoint says it should. */
async function openCheckpoint(path: string, last: Checkpoint): Promise<FileHandle> {
  const headPath = checkpointPath(path);
  let handle: FileHandle;
  try {
    handle = await open(headPath, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return open(headPath, 'w+', 0o600);
  }
  try {
    const text = (await handle.readFile()).toString('ascii');
    if (text.length === 0) return handle;
    const checkpoint = parseCheckpoint(text);
    if (typeof checkpoint === 'string') throw new Error(`audit log ${path}: ${checkpoint} (${headPath})`);
    if (checkpoint.seq > last.seq || (checkpoint.seq === last.seq && checkpoint.hash !== last.hash)) {
      throw new Error(`audit log ${path} ends at record ${last.seq} but its checkpoint records ${checkpoint.seq}: `
        + `records were removed; run kms-engine audit verify ${path}`);
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}
