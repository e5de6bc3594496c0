// What a first start leaves in KMS_DATA_DIR is for the service's user alone: the store (wrapped key material,
// policies, grants) and its WAL files, the root key and the credentials are created 0600. A root key file that
// other users can read is served with, but named in a warning, by the single server and by a KMS_FRONTENDS
// primary alike. The modes hold whatever the umask of the service's user (a umask of 000 included), for every
// directory the engine creates and for the copies `kms-engine backup` makes. A KMS_DATA_DIR made beforehand that
// others can write is named in a warning too.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * A process started with this in its environment runs with umask 000: nothing is masked off what it creates. Its
 * main thread sets it (worker threads share it, and may not set it: they load this module too).
 */
const UMASK_000 = { NODE_OPTIONS: "--import=data:text/javascript,import{isMainThread}from'node:worker_threads';isMainThread&&process.umask(0)" };
const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
const WARNING = /warning: KMS_ROOT_KEY_FILE (\S+) can be read or written by users other than its owner \(mode (\d{4})\); chmod 600 it/g;

let server: TestServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await server?.remove();
  server = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Encrypt and Decrypt one message: the server serves with the root key it warned about. */
async function roundTrip(running: TestServer): Promise<void> {
  const kms = running.client();
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
  const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('mode') }));
  const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
  expect(Buffer.from(Plaintext!).toString()).toBe('mode');
}

describe('file modes', () => {
  it('a first start creates the store, its WAL files, the root key and the credentials 0600, and warns about none', async () => {
    server = await startServer();
    await roundTrip(server);
    for (const name of ['kms.sqlite', 'kms.sqlite-wal', 'kms.sqlite-shm', 'root.key', 'credentials']) {
      const path = join(server.dataDir, name);
      expect(existsSync(path), name).toBe(true);
      expect(modeOf(path), name).toBe('0600');
    }
    expect(server.output()).not.toMatch(/warning/);
  });

  it.each([['one process', '1'], ['two front ends', '2']])('a root key file others can read is named in one warning (%s), and served with', async (_, frontends) => {
    const keyDir = mkdtempSync(join(tmpdir(), 'kms-root-key-'));
    dirs.push(keyDir);
    const rootKeyFile = join(keyDir, 'root.key');
    writeFileSync(rootKeyFile, randomBytes(32));
    chmodSync(rootKeyFile, 0o644);
    server = await startServer({ env: { KMS_ROOT_KEY_FILE: rootKeyFile, KMS_FRONTENDS: frontends } });
    const warnings = [...server.output().matchAll(WARNING)];
    expect(warnings.map((match) => [match[1], match[2]])).toEqual([[rootKeyFile, '0644']]);
    await roundTrip(server);
  });

  it('a root key file only its owner can read draws no warning', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'kms-root-key-'));
    dirs.push(keyDir);
    const rootKeyFile = join(keyDir, 'root.key');
    writeFileSync(rootKeyFile, randomBytes(32), { mode: 0o400 });
    server = await startServer({ env: { KMS_ROOT_KEY_FILE: rootKeyFile } });
    expect(server.output()).not.toMatch(/warning/);
    await roundTrip(server);
  });

  it('under umask 000: every directory the engine creates is 0700 and every file 0600, the backup\'s too', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'kms-umask-'));
    dirs.push(outside);
    // The audit log and the root key file may live outside KMS_DATA_DIR, in directories the engine creates.
    const auditLog = join(outside, 'logs', 'kms', 'audit.jsonl');
    const rootKeyFile = join(outside, 'keys', 'kms', 'root.key');
    const dataDir = join(outside, 'data');
    server = await startServer({ dataDir, env: { ...UMASK_000, KMS_AUDIT_LOG: auditLog, KMS_ROOT_KEY_FILE: rootKeyFile } });
    await roundTrip(server);
    const created = {
      directories: [dataDir, join(outside, 'logs'), join(outside, 'logs', 'kms'), join(outside, 'keys'), join(outside, 'keys', 'kms')],
      files: [...['kms.sqlite', 'kms.sqlite-wal', 'kms.sqlite-shm', 'credentials', 'node-id'].map((name) => join(dataDir, name)),
        auditLog, `${auditLog}.head`, rootKeyFile],
    };
    expect(Object.fromEntries(created.directories.map((path) => [path, modeOf(path)])))
      .toEqual(Object.fromEntries(created.directories.map((path) => [path, '0700'])));
    expect(Object.fromEntries(created.files.map((path) => [path, modeOf(path)])))
      .toEqual(Object.fromEntries(created.files.map((path) => [path, '0600'])));

    const target = join(outside, 'backups', 'today');
    const backup = runCli(['backup', target], { ...UMASK_000, KMS_DATA_DIR: dataDir, KMS_AUDIT_LOG: auditLog, KMS_ROOT_KEY_FILE: rootKeyFile });
    expect(backup.status, backup.output).toBe(0);
    const copies = ['kms.sqlite', 'audit.jsonl', 'audit.jsonl.head', 'root.key', 'credentials', 'node-id'].map((name) => join(target, name));
    const backupDirectories = [join(outside, 'backups'), target];
    expect(Object.fromEntries([...backupDirectories, ...copies].map((path) => [path, modeOf(path)]))).toEqual(Object.fromEntries([
      ...backupDirectories.map((path) => [path, '0700']), ...copies.map((path) => [path, '0600'])]));
  });

  // Users who can write the data directory can swap its files for their own: a credentials file with their keys,
  // which the next start takes as the root principal's, or a root key they know (a sticky bit does not help: they
  // can put either in place before the first start). Served with, like a readable root key, but named.
  it.each([['0777', 0o777], ['1777 (sticky)', 0o1777], ['0770', 0o770]])('a KMS_DATA_DIR others can write (%s) is named in one warning, and served with', async (_, mode) => {
    const parent = mkdtempSync(join(tmpdir(), 'kms-data-dir-'));
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, mode);
    server = await startServer({ dataDir });
    const warnings = server.output().split('\n').filter((line) => line.includes('warning'));
    expect(warnings).toEqual([`kms-engine: warning: KMS_DATA_DIR ${dataDir} can be written by users other than its owner `
      + `(mode ${(mode & 0o777).toString(8).padStart(4, '0')}), who can replace its credentials, root key and store; chmod 700 it`]);
    await roundTrip(server);
  });

  it('a KMS_AUDIT_LOG directory others can write is named in one warning, and served with', async () => {
    const logs = mkdtempSync(join(tmpdir(), 'kms-audit-dir-'));
    dirs.push(logs);
    chmodSync(logs, 0o777);
    server = await startServer({ env: { KMS_AUDIT_LOG: join(logs, 'audit.jsonl') } });
    expect(server.output().split('\n').filter((line) => line.includes('warning'))).toEqual([`kms-engine: warning: KMS_AUDIT_LOG's directory ${logs} `
      + 'can be written by users other than its owner (mode 0777), who can replace the audit log; chmod 700 it']);
    await roundTrip(server);
  });

  it('a KMS_DATA_DIR others can only enter or list (0755) draws no warning: every file in it is 0600', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'kms-data-dir-'));
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    server = await startServer({ dataDir });
    expect(server.output()).not.toMatch(/warning/);
    await roundTrip(server);
  });

  // The TLS private key lets whoever reads it impersonate the engine to its clients (and read their plaintext).
  it('a KMS_TLS_KEY others can read is named in one warning; one only its owner can read draws none', async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'kms-tls-key-'));
    dirs.push(tlsDir);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key',
      '-out', 'server.pem', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: tlsDir, stdio: 'ignore' });
    const tls = { KMS_TLS_CERT: join(tlsDir, 'server.pem'), KMS_TLS_KEY: join(tlsDir, 'server.key') };
    chmodSync(tls.KMS_TLS_KEY, 0o644);
    server = await startServer({ env: tls });
    expect(server.output().split('\n').filter((line) => line.includes('warning'))).toEqual([
      `kms-engine: warning: KMS_TLS_KEY ${tls.KMS_TLS_KEY} can be read or written by users other than its owner (mode 0644); chmod 600 it`]);
    await server.remove();
    chmodSync(tls.KMS_TLS_KEY, 0o600);
    server = await startServer({ env: tls });
    expect(server.output()).not.toMatch(/warning/);
  });
});
