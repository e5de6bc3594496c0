import { appendFile, open, readFile, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { logFile } from '../../src/audit/file-io.js';
import { checkpointPath, parseCheckpoint } from '../../src/audit/checkpoint.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { KmsError } from '../../src/protocol/errors.js';
import { sampleRecord, tempLogPath } from './helpers.js';

const linesOf = async (path: string): Promise<Record<string, any>[]> =>
  (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));

/** FileHandle's prototype, so a test can make the log's truncation fail. */
async function fileHandlePrototype(path: string): Promise<FileHandle> {
  const probe = await open(`${path}.probe`, 'w');
  await probe.close();
  return Object.getPrototypeOf(probe) as FileHandle;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('AuditLog', () => {
  it('writes records appended in the same tick with one write call and chains them', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    const write = vi.spyOn(logFile, 'append');
    const appends = Array.from({ length: 50 }, (_, i) => log.append(sampleRecord(i)));
    expect(log.pending()).toBe(50);
    await Promise.all(appends);
    expect(write).toHaveBeenCalledTimes(1);
    expect(log.pending()).toBe(0);
    expect(log.lagSeconds()).toBe(0);
    await log.close();

    const lines = await linesOf(path);
    expect(lines.map((line) => line.chain.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(lines.map((line) => line.requestID)).toEqual(Array.from({ length: 50 }, (_, i) => `request-${i}`));
    expect(lines[0]!.chain.prev).toBe('0'.repeat(64));
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.chain.prev).toBe(lines[i - 1]!.chain.hash);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, records: 50, checkpoint: 'matched' });
  });

  it('writes what one callback\'s promise jobs appended as one batch, before the event loop runs anything else', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    const write = vi.spyOn(logFile, 'append');
    let appends: Array<Promise<void>> = [];
    // Two immediates of one check phase: the first appends from promise jobs at different depths (as the
    // requests of a turn batch reach their audit record after different numbers of awaits); by the time the
    // second runs, their one batch is written. (Flushed at setImmediate, it waited for the next iteration.)
    const writesSeenNext = await new Promise<number>((resolve) => {
      setImmediate(() => {
        appends = [0, 1, 2].map(async (depth) => {
          for (let hop = 0; hop < depth * 3; hop++) await Promise.resolve();
          await log.append(sampleRecord(depth));
        });
      });
      setImmediate(() => resolve(write.mock.calls.length));
    });
    expect(writesSeenNext).toBe(1);
    await Promise.all(appends);
    expect(write).toHaveBeenCalledTimes(1);
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 3 });
  });

  it('queues records behind the write in flight and sends them as the next single batch', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    const write = vi.spyOn(logFile, 'append');
    const first = log.append(sampleRecord(0));
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is now in flight
    const rest = Array.from({ length: 20 }, (_, i) => log.append(sampleRecord(i + 1)));
    await Promise.all([first, ...rest]);
    expect(write).toHaveBeenCalledTimes(2);
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 21 });
  });

  it('continues the chain across a reopen and keeps the checkpoint at the newest record', async () => {
    const path = await tempLogPath();
    const first = await AuditLog.open(path, { nodeId: 'node-a' });
    await Promise.all([1, 2, 3].map((n) => first.append(sampleRecord(n))));
    await first.close();
    const second = await AuditLog.open(path, { nodeId: 'node-a' });
    expect(second.head().seq).toBe(3);
    await Promise.all([4, 5].map((n) => second.append(sampleRecord(n))));
    await second.close();

    const lines = await linesOf(path);
    expect(lines.map((line) => line.chain.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lines.every((line) => line.chain.node === 'node-a')).toBe(true);
    expect(parseCheckpoint(await readFile(checkpointPath(path), 'ascii'))).toEqual({ seq: 5, hash: lines[4]!.chain.hash });
    expect(await verifyAuditLog(path)).toEqual({ ok: true, records: 5, checkpoint: 'matched' });
  });

  it('truncates a torn last line at open and records the truncation as the next record', async () => {
    const path = await tempLogPath();
    const first = await AuditLog.open(path);
    await Promise.all([1, 2].map((n) => first.append(sampleRecord(n))));
    await first.close();
    const torn = '{"eventVersion":"1.11","userIdentity":{"ty';
    await appendFile(path, torn);

    const second = await AuditLog.open(path, { region: 'us-east-1', accountId: '111122223333' });
    await second.append(sampleRecord(3));
    await second.close();
    const lines = await linesOf(path);
    expect(lines.map((line) => line.eventName)).toEqual(['Encrypt', 'Encrypt', 'AuditLogTruncated', 'Encrypt']);
    expect(lines[2]).toMatchObject({
      eventType: 'AwsServiceEvent', awsRegion: 'us-east-1', recipientAccountId: '111122223333',
      additionalEventData: { truncatedBytes: torn.length, afterSeq: 2 },
    });
    expect(lines[2]!.additionalEventData.truncatedSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 4 });
  });

  it('recovers a file that holds nothing but a torn line', async () => {
    const path = await tempLogPath();
    await writeFile(path, '{"eventVer');
    const log = await AuditLog.open(path);
    await log.close();
    expect((await linesOf(path)).map((line) => line.chain.seq)).toEqual([1]);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 1 });
  });

  it('refuses to open a log whose newest records were removed behind its checkpoint', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    await Promise.all([1, 2, 3].map((n) => log.append(sampleRecord(n))));
    await log.close();
    const bytes = await readFile(path);
    await truncate(path, bytes.indexOf('\n') + 1);
    await expect(AuditLog.open(path)).rejects.toThrow(/ends at record 1 but its checkpoint records 3/);
  });

  it('refuses to open a log whose last record was edited', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    await Promise.all([1, 2].map((n) => log.append(sampleRecord(n))));
    await log.close();
    await writeFile(path, (await readFile(path, 'utf8')).replace('request-2', 'request-X'));
    await expect(AuditLog.open(path)).rejects.toThrow(/last record is not intact/);
  });

  it('leaves the file as found when it refuses to open, torn tail included', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    await Promise.all([1, 2].map((n) => log.append(sampleRecord(n))));
    await log.close();
    await writeFile(path, `${(await readFile(path, 'utf8')).replace('request-2', 'request-X')}{"torn`);
    const before = await readFile(path);
    await expect(AuditLog.open(path)).rejects.toThrow(/last record is not intact/);
    expect(await readFile(path)).toEqual(before);
  });

  it('rejects every append of a batch whose write fails, then continues an intact chain', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    await log.append(sampleRecord(0));
    const realAppend = logFile.append;
    let failNext = true;
    vi.spyOn(logFile, 'append').mockImplementation((fd, bytes, offset, length) => {
      if (failNext) {
        failNext = false;
        // Half the batch reaches the file before the device fails: the log must cut it off again.
        realAppend(fd, bytes, offset, Math.floor(length / 2));
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      }
      return realAppend(fd, bytes, offset, length);
    });

    const failed = await Promise.allSettled([1, 2, 3].map((n) => log.append(sampleRecord(n))));
    for (const outcome of failed) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as KmsError;
      expect(reason).toBeInstanceOf(KmsError);
      expect(reason.code).toBe('KMSInternalException');
      expect((reason.cause as NodeJS.ErrnoException).code).toBe('EIO');
    }
    await log.append(sampleRecord(4));
    await log.close();
    const lines = await linesOf(path);
    expect(lines.map((line) => line.requestID)).toEqual(['request-0', 'request-4']);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, records: 2, checkpoint: 'matched' });
  });

  it('refuses all further appends when a failed write cannot be cut off the file', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    const proto = await fileHandlePrototype(path);
    vi.spyOn(logFile, 'append').mockImplementation(() => { throw new Error('EIO'); });
    vi.spyOn(proto, 'truncate').mockRejectedValue(new Error('EROFS'));
    await expect(log.append(sampleRecord(1))).rejects.toMatchObject({ code: 'KMSInternalException' });
    vi.restoreAllMocks();
    await expect(log.append(sampleRecord(2))).rejects.toMatchObject({ code: 'KMSInternalException' });
    await log.close();
  });

  it('reports the age of the oldest unwritten record', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    const now = vi.spyOn(performance, 'now').mockReturnValue(1_000);
    const appended = log.append(sampleRecord(1));
    log.append(sampleRecord(2)).catch(() => undefined);
    now.mockReturnValue(3_500);
    expect(log.lagSeconds()).toBeCloseTo(2.5);
    expect(log.pending()).toBe(2);
    await appended;
    expect(log.lagSeconds()).toBe(0);
    expect(log.pending()).toBe(0);
    await log.close();
  });

  it('flushes queued records on close and rejects appends after it', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    const appended = Promise.all([1, 2, 3].map((n) => log.append(sampleRecord(n))));
    await log.close();
    await appended;
    expect(await linesOf(path)).toHaveLength(3);
    await expect(log.append(sampleRecord(4))).rejects.toThrow(/closed/);
  });

  it('fails only the call whose record cannot be serialized', async () => {
    const path = await tempLogPath();
    const log = await AuditLog.open(path);
    const bad = { ...sampleRecord(1), additionalEventData: { size: 1n } };
    const [good, failed] = await Promise.allSettled([log.append(sampleRecord(0)), log.append(bad as never)]);
    expect(good.status).toBe('fulfilled');
    expect(failed.status).toBe('rejected');
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 1 });
  });
});
