// `kms-engine backup DIR` as an operator runs it beside a busy server: the copy, started as a data directory of its
// own, decrypts every ciphertext made before it, keeps aliases, grants and tags, and its audit log verifies
// against its checkpoint (a copy in name order, as cp or tar make, can hold a checkpoint newer than its log and
// then the engine refuses to start on it). Wrong arguments get one line and exit 2, creating nothing.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, ListAliasesCommand,
  ListGrantsCommand, ListResourceTagsCommand, ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFiles, freshConnectionClient } from '../frontends/support.js';
import { BIN, runCli } from '../support/cli.js';
import { startServer } from '../support/server.js';

const work = mkdtempSync(join(tmpdir(), 'kms-backup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The command in its own process, without blocking this one: the test's requests keep the server busy meanwhile. */
const backup = (dataDir: string, target: string) =>
  promisify(execFile)(process.execPath, [BIN, 'backup', target], { env: { ...process.env, KMS_DATA_DIR: dataDir, KMS_WORKERS: '1' } });

describe('kms-engine backup', () => {
  it('copies a running server\'s data directory into one a server starts on, with every key, alias, grant and tag', async () => {
    const server = await startServer({ dataDir: mkdtempSync(join(work, 'data-')) });
    const client = server.client();
    const target = join(work, 'copy');
    const made: { keyId: string; ciphertext: Uint8Array; grantId: string }[] = [];
    let busy = true;
    try {
      for (let i = 0; i < 5; i++) {
        const { KeyMetadata } = await client.send(new CreateKeyCommand({ Tags: [{ TagKey: 'n', TagValue: String(i) }] }));
        const keyId = KeyMetadata!.KeyId!;
        await client.send(new CreateAliasCommand({ AliasName: `alias/backup-${i}`, TargetKeyId: keyId }));
        const { GrantId } = await client.send(new CreateGrantCommand({
          KeyId: keyId, GranteePrincipal: `arn:aws:iam::${server.accountId}:user/bob`, Operations: ['Decrypt'],
        }));
        const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`secret ${i}`) }));
        made.push({ keyId, ciphertext: CiphertextBlob!, grantId: GrantId! });
      }
      // Writes to the store and the audit log all through the copy.
      const burst = (async () => {
        while (busy) {
          const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
          await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('burst') }));
          await client.send(new ScheduleKeyDeletionCommand({ KeyId: KeyMetadata!.KeyId, PendingWindowInDays: 7 }));
        }
      })();
      const { stdout } = await backup(server.dataDir, target).finally(() => { busy = false; });
      await burst;
      expect(stdout.trim()).toBe(`kms-engine: backed up ${server.dataDir} to ${target}`);
    } finally {
      busy = false;
      client.destroy();
      await server.remove();
    }

    expect(readdirSync(target).sort()).toEqual(['audit.jsonl', 'audit.jsonl.head', 'credentials', 'kms.sqlite', 'node-id', 'root.key']);
    for (const name of readdirSync(target)) expect(statSync(join(target, name)).mode & 0o777, name).toBe(0o600);

    const restored = await startServer({ dataDir: target });
    const again = restored.client();
    try {
      for (const [i, { keyId, ciphertext, grantId }] of made.entries()) {
        const { Plaintext, KeyId } = await again.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
        expect(Buffer.from(Plaintext!).toString()).toBe(`secret ${i}`);
        expect(KeyId).toContain(keyId);
        const { Grants } = await again.send(new ListGrantsCommand({ KeyId: keyId }));
        expect(Grants!.map((grant) => grant.GrantId)).toEqual([grantId]);
        const { Tags } = await again.send(new ListResourceTagsCommand({ KeyId: keyId }));
        expect(Tags).toEqual([{ TagKey: 'n', TagValue: String(i) }]);
        const { Aliases } = await again.send(new ListAliasesCommand({ KeyId: keyId }));
        expect(Aliases!.map((alias) => alias.AliasName)).toEqual([`alias/backup-${i}`]);
      }
    } finally {
      again.destroy();
      await restored.stop();
    }
    const verified = runCli(['audit', 'verify', join(target, 'audit.jsonl')]);
    expect(verified.status, verified.output).toBe(0);
    expect(verified.stdout).toMatch(/records intact \(checkpoint matched\)/);
  });

  it('copies each front end\'s audit log with its checkpoint (KMS_FRONTENDS=2), and each verifies', async () => {
    const server = await startServer({ dataDir: mkdtempSync(join(work, 'frontends-')), env: { KMS_FRONTENDS: '2' } });
    const target = join(work, 'frontends-copy');
    try {
      // A connection per request: the calls spread over both front ends, so each writes its own log.
      const client = freshConnectionClient(server);
      for (let i = 0; i < 20 && auditFiles(server.dataDir).size < 2; i++) await client.send(new CreateKeyCommand({}));
      client.destroy();
      expect([...auditFiles(server.dataDir).keys()].sort()).toEqual([1, 2]);
      await backup(server.dataDir, target);
    } finally {
      await server.remove();
    }
    const logs = [...auditFiles(target).values()];
    expect(logs).toHaveLength(2);
    for (const log of logs) {
      expect(existsSync(`${log}.head`), log).toBe(true);
      const verified = runCli(['audit', 'verify', log]);
      expect(verified.status, verified.output).toBe(0);
    }
  });

  it.each([
    [[], /^usage: kms-engine backup DIR /],
    [['a', 'b'], /^usage: kms-engine backup DIR /],
  ])('%j: the usage line, exit 2', (args, line) => {
    const run = runCli(['backup', ...args], { KMS_DATA_DIR: join(work, 'none') });
    expect(run.status, run.output).toBe(2);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatch(line);
  });

  it('refuses a directory that exists, and a data directory without a store, in one line, creating nothing', () => {
    const taken = join(work, 'taken');
    mkdirSync(taken);
    const exists = runCli(['backup', taken], { KMS_DATA_DIR: join(work, 'none') });
    expect(exists.status, exists.output).toBe(2);
    expect(exists.lines).toEqual([`kms-engine: backup: ${taken} exists; name a directory to create`]);

    const empty = mkdtempSync(join(work, 'empty-'));
    const none = runCli(['backup', join(work, 'never')], { KMS_DATA_DIR: empty });
    expect(none.status, none.output).toBe(2);
    expect(none.lines).toEqual([`kms-engine: backup: KMS_DATA_DIR ${empty} holds no store (kms.sqlite)`]);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });
});
