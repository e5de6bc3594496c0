// GetKeyLastUsage after a crash. The tracker (usage-tracker.ts) saves uses about once a second and the rest at
// shutdown, so a process that dies (SIGKILL, power loss, an out-of-memory kill) loses the uses it had not saved:
// the key's last use went back to an older one, for good, while the audit log held the newer. The log is written
// before a call answers (a use counts once it is recorded), so at start the uses of the log's newest records are
// noted again. The store keeps a use only over an older one (recordKeyUsage), and the tracker answers the newer
// of what it holds and what is stored, so noting uses that were saved changes nothing.
//
// Only the newest records are read, from the end backwards: the uses a crash can lose are the last seconds'.
import { open, type FileHandle } from 'node:fs/promises';
import { TRACKED_OPERATIONS, type KeyUsageTracker } from './usage-tracker.js';

export interface UsageRecoveryOptions {
  /** Records this many seconds older than the newest one are not read. */
  windowSeconds?: number;
  /** Nor more than this many bytes from the end of the log. */
  maxBytes?: number;
}

const CHUNK = 1024 * 1024;

interface RecoveredUse { arn: string; operation: string; usedAt: number; eventId: string; requestId: string }

/**
 * Notes each key's recovered use unless it is the one the store holds (saved before the process ended, its time with
 * milliseconds). A record's eventTime has whole seconds, and the use is the key's newest in this log (written in
 * order): a different use stored earlier in the same second must not outrank it, so it is noted just after that one.
 * A use stored in a later second (another node's, on a shared store) stays the newest.
 */
async function noteRecovered(tracker: Pick<KeyUsageTracker, 'note' | 'lastUsage'>, found: readonly RecoveredUse[]): Promise<number> {
  for (const use of found) {
    const stored = await tracker.lastUsage(use.arn.slice(use.arn.lastIndexOf('/') + 1));
    if (stored !== undefined && (stored.eventId === use.eventId || stored.usedAt >= use.usedAt + 1)) continue;
    const usedAt = stored !== undefined && stored.usedAt >= use.usedAt ? stored.usedAt + 0.001 : use.usedAt;
    tracker.note([use.arn], use.operation, usedAt, use.eventId, use.requestId);
  }
  return found.length;
}


interface LoggedUse {
  eventName?: unknown;
  eventType?: unknown;
  errorCode?: unknown;
  eventTime?: unknown;
  eventID?: unknown;
  requestID?: unknown;
  resources?: unknown;
}

/** The key ARNs of a record of a successful tracked call, or undefined when it is not one. */
function usedKeys(record: LoggedUse): string[] | undefined {
  if (record.eventType !== 'AwsApiCall' || record.errorCode !== undefined || typeof record.eventName !== 'string'
    || !TRACKED_OPERATIONS.has(record.eventName) || !Array.isArray(record.resources)) return undefined;
  return (record.resources as Array<{ type?: unknown; ARN?: unknown }>)
    .filter((resource) => resource.type === 'AWS::KMS::Key' && typeof resource.ARN === 'string')
    .map((resource) => resource.ARN as string);
}

/**
 * Notes in `tracker` each key's newest successful use among the audit log's newest records (see the top of this
 * file). Returns how many keys it noted. A log that does not exist yet holds nothing to recover.
 */
export async function recoverKeyUsage(logPath: string, tracker: Pick<KeyUsageTracker, 'note' | 'lastUsage'>,
  options: UsageRecoveryOptions = {}): Promise<number> {
  const windowSeconds = options.windowSeconds ?? 5;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  let handle: FileHandle;
  try {
    handle = await open(logPath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const seen = new Set<string>();
  const found: RecoveredUse[] = [];
  let newest: number | undefined;
  /** Notes the use a line records; false once the lines are older than the window. */
  const take = (line: Buffer): boolean => {
    if (line.length === 0) return true;
    let record: LoggedUse;
    try {
      record = JSON.parse(line.toString('utf8')) as LoggedUse;
    } catch {
      return true; // a torn last line, or one cut at maxBytes: no use to take from it
    }
    const usedAt = typeof record.eventTime === 'string' ? Date.parse(record.eventTime) / 1000 : Number.NaN;
    if (Number.isNaN(usedAt)) return true;
    newest ??= usedAt;
    if (usedAt < newest - windowSeconds) return false;
    const keys = usedKeys(record);
    if (keys === undefined || typeof record.eventID !== 'string' || typeof record.requestID !== 'string') return true;
    for (const arn of keys) {
      // Newest first: the key's uses further back are not its last.
      if (seen.has(arn)) continue;
      seen.add(arn);
      found.push({ arn, operation: record.eventName as string, usedAt, eventId: record.eventID, requestId: record.requestID });
    }
    return true;
  };
  try {
    let end = (await handle.stat()).size;
    const stopAt = Math.max(0, end - maxBytes);
    // The start of a line whose beginning is in a chunk not read yet.
    let carry = Buffer.alloc(0);
    while (end > stopAt) {
      const start = Math.max(stopAt, end - CHUNK);
      const chunk = Buffer.alloc(end - start);
      await handle.read(chunk, 0, chunk.length, start);
      end = start;
      const bytes = carry.length === 0 ? chunk : Buffer.concat([chunk, carry]);
      // The lines after the chunk's first newline are whole: newest first.
      let lineEnd = bytes.length;
      for (let newline = bytes.lastIndexOf(0x0a, lineEnd - 1); newline >= 0;
        newline = lineEnd > 0 ? bytes.lastIndexOf(0x0a, lineEnd - 1) : -1) {
        if (!take(bytes.subarray(newline + 1, lineEnd))) return noteRecovered(tracker, found);
        lineEnd = newline;
      }
      // What precedes the first newline is the file's first line at its start, else part of a line begun earlier.
      if (start === stopAt) {
        take(bytes.subarray(0, lineEnd));
        break;
      }
      carry = Buffer.from(bytes.subarray(0, lineEnd));
    }
    return noteRecovered(tracker, found);
  } finally {
    await handle.close();
  }
}
