// Recovering GetKeyLastUsage from the audit log's newest records after a crash (src/keys/usage-recovery.ts): each
// key's newest successful tracked use, read backwards across the reads' chunk boundaries, within the window and
// the byte bound; failed calls, untracked operations and service events are not uses.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { buildAuditRecord, buildServiceEventRecord, type AuditRecord } from '../../src/audit/record.js';
import { recoverKeyUsage } from '../../src/keys/usage-recovery.js';
import { KeyUsageTracker } from '../../src/keys/usage-tracker.js';
import type { KeyUsageRecord } from '../../src/store/types.js';
import { tempLogPath } from '../audit/helpers.js';

const arn = (keyId: string) => `arn:aws:kms:us-east-1:111122223333:key/${keyId}`;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

let counter = 0;
function call(operation: string, keys: string[], second: number, error?: string): AuditRecord {
  counter += 1;
  return buildAuditRecord({
    operation, requestId: `request-${counter}`, eventTime: new Date(T0 + second * 1000),
    principal: { arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', accessKeyId: 'AKIDEXAMPLE', type: 'Root' },
    sourceIPAddress: '127.0.0.1', userAgent: 'test', region: 'us-east-1',
    // A bulky context makes the log span several of the recovery's 1 MiB reads.
    request: { KeyId: keys[0], EncryptionContext: { padding: 'p'.repeat(2000) } },
    keyArns: keys.map(arn), readOnly: true,
    ...(error !== undefined ? { error: { code: error, message: 'refused' } } : {}),
  });
}

interface Noted { keyArn: string; operation: string; usedAt: number; eventId: string; requestId: string }
const recorder = () => {
  const noted: Noted[] = [];
  return {
    noted,
    note: (keyArns: readonly string[], operation: string, usedAt: number, eventId: string, requestId: string) => {
      for (const keyArn of keyArns) noted.push({ keyArn, operation, usedAt, eventId, requestId });
    },
    lastUsage: async () => undefined, // nothing saved
  };
};

async function writeLog(records: AuditRecord[]): Promise<string> {
  const path = await tempLogPath();
  const log = await AuditLog.open(path);
  for (const record of records) await log.append(record);
  await log.close();
  return path;
}

const useOf = (record: AuditRecord, keyId: string): Noted => ({
  keyArn: arn(keyId), operation: record.eventName, usedAt: Date.parse(record.eventTime) / 1000,
  eventId: record.eventID, requestId: record.requestID,
});

describe('recoverKeyUsage', () => {
  it('notes each key\'s newest successful tracked use, once, reading back across chunk boundaries', async () => {
    const filler = Array.from({ length: 900 }, (_, i) => call('Encrypt', ['busy'], 1 + (i % 2)));
    const older = call('Encrypt', ['a'], 2);
    const newerA = call('GenerateDataKey', ['a'], 3);
    const reEncrypt = call('ReEncrypt', ['b', 'c'], 3);
    const failed = call('Decrypt', ['d'], 4, 'IncorrectKeyException');
    const untracked = call('DescribeKey', ['e'], 4);
    const rotation = buildServiceEventRecord({ eventName: 'RotateKey', eventTime: new Date(T0 + 4000), region: 'us-east-1', accountId: '111122223333', keyArn: arn('f') });
    const lastBusy = call('Encrypt', ['busy'], 4);
    const path = await writeLog([older, ...filler, newerA, reEncrypt, failed, untracked, rotation, lastBusy]);
    expect(statSync(path).size).toBeGreaterThan(2 * 1024 * 1024);

    const tracker = recorder();
    expect(await recoverKeyUsage(path, tracker, { windowSeconds: 60 })).toBe(4);
    expect(new Map(tracker.noted.map((use) => [use.keyArn, use]))).toEqual(new Map([
      [arn('busy'), useOf(lastBusy, 'busy')], [arn('a'), useOf(newerA, 'a')], [arn('b'), useOf(reEncrypt, 'b')], [arn('c'), useOf(reEncrypt, 'c')],
    ]));
    expect(tracker.noted).toHaveLength(4);
  });

  it('reads no further back than the window before the newest record, or than its byte bound', async () => {
    const old = call('Encrypt', ['old'], 0);
    const recent = call('Encrypt', ['recent'], 10);
    const newest = call('Sign', ['newest'], 14);
    const path = await writeLog([old, recent, newest]);

    const windowed = recorder();
    await recoverKeyUsage(path, windowed, { windowSeconds: 5 });
    expect(windowed.noted.map((use) => use.keyArn)).toEqual([arn('newest'), arn('recent')]);

    const bounded = recorder();
    // The newest line and the end of the one before it: that cut line is skipped, not misread.
    const newestLine = Buffer.byteLength(readFileSync(path, 'utf8').split('\n').at(-2)!) + 1;
    await recoverKeyUsage(path, bounded, { windowSeconds: 60, maxBytes: newestLine + 100 });
    expect(bounded.noted.map((use) => use.keyArn)).toEqual([arn('newest')]);
  });

  it('a recovered use outranks the key\'s previous use saved earlier in the same second', async () => {
    // The previous use was saved with milliseconds (second 5, .500); the one after it, lost by a crash, is in the
    // log to the second (second 5): recovered at the start of its second, it lost to the older one.
    const previous: KeyUsageRecord = { keyId: 'k', operation: 'Encrypt', usedAt: (T0 + 5_500) / 1000, eventId: 'previous-event', requestId: 'previous-request' };
    const saved = new Map([['k', previous]]);
    const store = {
      recordKeyUsage: async (uses: readonly KeyUsageRecord[]) => {
        for (const use of uses) if ((saved.get(use.keyId)?.usedAt ?? -1) < use.usedAt) saved.set(use.keyId, use);
      },
      getKeyUsage: async (keyId: string) => saved.get(keyId),
      usageTrackingStart: async () => T0 / 1000,
    };
    const tracker = new KeyUsageTracker(store, { flushIntervalMs: 3_600_000 });
    try {
      const lost = call('Encrypt', ['k'], 5);
      await recoverKeyUsage(await writeLog([lost]), tracker);
      expect(await tracker.lastUsage('k')).toMatchObject({ eventId: lost.eventID, requestId: lost.requestID });
    } finally {
      await tracker.close();
    }
  });

  it('recovers nothing from a log that does not exist yet', async () => {
    expect(await recoverKeyUsage(`${await tempLogPath()}.absent`, recorder())).toBe(0);
  });
});
