// Shared fixtures for the audit tests: a throwaway directory and records that differ by request id.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { buildAuditRecord, type AuditRecord } from '../../src/audit/record.js';

const directories: string[] = [];

/** A fresh log path in a temporary directory removed after the test. */
export async function tempLogPath(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'kms-audit-'));
  directories.push(directory);
  return join(directory, 'audit.jsonl');
}

afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

export function sampleRecord(n: number): AuditRecord {
  return buildAuditRecord({
    operation: 'Encrypt',
    requestId: `request-${n}`,
    eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)),
    principal: { arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', accessKeyId: 'AKIDEXAMPLE', type: 'Root' },
    sourceIPAddress: '127.0.0.1',
    userAgent: 'test',
    region: 'us-east-1',
    request: { KeyId: 'alias/test', EncryptionContext: { n: String(n), 'ünïcode': '✓' } },
    response: { KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k', EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
    keyArns: ['arn:aws:kms:us-east-1:111122223333:key/k'],
    readOnly: true,
  });
}
