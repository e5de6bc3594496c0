// interface.md: "A bad value in any of these stops the server at start with one clear line naming the variable",
// and the root credentials are "generated at first start, saved ... and printed once". The real CLI, started on a
// fresh data directory with one bad value: a non-zero status, exactly one line of output naming the variable,
// and no credentials printed or left saved (the next good start must print its own).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startServer } from '../support/server.js';

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const work = mkdtempSync(join(tmpdir(), 'kms-engine-start-errors-'));
const SEED_KEY_ID = 'b3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01';

const file = (name: string, content: unknown): string => {
  const path = join(work, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

let blocker: Server;
let takenPort: number;

beforeAll(async () => {
  blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  takenPort = (blocker.address() as { port: number }).port;
});

afterAll(() => {
  blocker?.close();
  rmSync(work, { recursive: true, force: true });
});

/** `kms-engine serve` to its end on a data directory that does not exist yet. */
async function serveToExit(env: Record<string, string>) {
  const dataDir = join(mkdtempSync(join(work, 'run-')), 'data');
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', KMS_DATA_DIR: dataDir, KMS_WORKERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const status = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 30_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve(code); });
  });
  return { status, output, dataDir };
}

function expectOneLineNaming(run: { status: number | null; output: string; dataDir: string }, variable: string) {
  expect(run.status, run.output).not.toBeNull();
  expect(run.status, run.output).not.toBe(0);
  const lines = run.output.split('\n').filter((line) => line !== '');
  expect(lines, run.output).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^kms-engine: ${variable}: `));
  expect(run.output).not.toContain('AWS_SECRET_ACCESS_KEY');
  expect(existsSync(join(run.dataDir, 'credentials')), 'credentials left saved').toBe(false);
}

describe('a bad environment value stops `kms-engine serve` with one line naming it', () => {
  // Checked before anything is created: not even the data directory.
  it.each([
    ['KMS_QUOTAS', 'aws,fast'],
    ['KMS_QUOTAS', 'Nonsense=5'],
    ['KMS_IDENTITIES', join(work, 'absent-identities.json')],
    ['KMS_IDENTITIES', file('bad-identities.json', { identities: [{ accessKeyId: 'AKIABADBADBADBAD0001', secretAccessKey: 'secret-secret-secret', arn: 'not-an-arn' }] })],
    ['KMS_SEED_FILE', '/nonexistent.json'],
    ['KMS_SEED_FILE', file('not-json.json', '{"keys": [')],
    ['KMS_SEED_FILE', file('bad-key-id.json', { keys: [{ keyId: 'not-a-uuid' }] })],
    ['KMS_LATENCY', 'bogus'],
    ['KMS_FAULTS', 'bogus'],
    ['KMS_RSA_POOL', 'lots'], // read by the workers: it used to fail after the server listened, as a stack trace
    ['HOST', '999.1.1.1'],
    ['HOST', '10.123.45.67'], // well-formed, but no address of this machine
    // Paths start-up must create or use: a file where a directory has to be, or a directory where a file has to be.
    ['KMS_DATA_DIR', file('data-dir-is-a-file', 'x')],
    ['KMS_DATA_DIR', join(file('data-dir-parent-is-a-file', 'x'), 'data')],
    ['KMS_ROOT_KEY_FILE', work],
    ['KMS_ROOT_KEY_FILE', join(file('root-key-parent-is-a-file', 'x'), 'root.key')],
    ['KMS_AUDIT_LOG', work],
    ['KMS_AUDIT_LOG', join(file('audit-log-parent-is-a-file', 'x'), 'audit.jsonl')],
    ['KMS_QUOTA_STORE', 'redis://127.0.0.1:99999'], // not a URL: it used to fail as a bare "Invalid URL"
    ['KMS_STORE', 'postgres://[db'],
  ])('%s=%s', async (variable, value) => {
    const run = await serveToExit({ [variable]: value });
    expectOneLineNaming(run, variable);
    expect(run.status).toBe(2);
    expect(existsSync(run.dataDir), 'data directory created').toBe(false);
    if (variable === 'KMS_IDENTITIES') expect(run.output).not.toContain('secret-secret-secret');
  });

  // A principal of KMS_IDENTITIES with the root's access key id, configured by KMS_ACCESS_KEY_ID or saved in
  // KMS_DATA_DIR: it was found only once the data directory, root key and node id were made, and exited 1.
  it('KMS_IDENTITIES naming the access key id of the root', async () => {
    const identities = file('root-key-clash.json', { identities: [{
      accessKeyId: 'AKIACLASHCLASHCLASH1', secretAccessKey: 'secret-secret-secret', arn: 'arn:aws:iam::111122223333:user/alice', policies: [],
    }] });
    const configured = await serveToExit({ KMS_IDENTITIES: identities, KMS_ACCESS_KEY_ID: 'AKIACLASHCLASHCLASH1', KMS_SECRET_ACCESS_KEY: 'root-secret' });
    expectOneLineNaming(configured, 'KMS_IDENTITIES');
    expect(configured.status).toBe(2);
    expect(existsSync(configured.dataDir), 'data directory created').toBe(false);
    const dataDir = mkdtempSync(join(work, 'saved-root-'));
    writeFileSync(join(dataDir, 'credentials'), JSON.stringify({ accessKeyId: 'AKIACLASHCLASHCLASH1', secretAccessKey: 'root-secret' }));
    const saved = await serveToExit({ KMS_IDENTITIES: identities, KMS_DATA_DIR: dataDir });
    expect(saved.status, saved.output).toBe(2);
    expect(saved.output.trim()).toMatch(/^kms-engine: KMS_IDENTITIES: [^\n]*AKIACLASHCLASHCLASH1 is already used by another principal$/);
  });

  // mkdir(2) answers ENOENT under /proc although the parent exists: Node's recursive mkdir then loops forever,
  // and the start used to hang without a word.
  it.each([
    [{ KMS_DATA_DIR: '/proc/kms-engine-test' }],
    [{ KMS_DATA_DIR: '/proc/kms-engine-test/data' }],
    [{ KMS_DATA_DIR: '/proc/kms-engine-test', KMS_FRONTENDS: '2' }],
    [{ KMS_ROOT_KEY_FILE: '/proc/kms-engine-test/root.key' }],
    [{ KMS_AUDIT_LOG: '/proc/kms-engine-test/audit.jsonl' }],
  ])('a directory that cannot be made although its parent exists: %o', async (env) => {
    const run = await serveToExit(env);
    expectOneLineNaming(run, Object.keys(env)[0]!);
    expect(run.output).toContain('(ENOENT)');
    expect(run.status).toBe(2);
  });

  it('the plain-HTTP warning does not come before a fatal error: HOST=0.0.0.0 with a bad KMS_QUOTAS', async () => {
    const run = await serveToExit({ HOST: '0.0.0.0', KMS_QUOTAS: 'fast' });
    expectOneLineNaming(run, 'KMS_QUOTAS');
  });

  // Found only once the engine is open (the port is in use; the workers refuse the seed's fixed material).
  it.each([
    ['PORT', () => ({ PORT: String(takenPort) }), /EADDRINUSE/],
    ['KMS_SEED_FILE', () => ({
      KMS_SEED_FILE: file('bad-material.json', { keys: [{ keyId: SEED_KEY_ID, keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', material: 'AAAA' }] }),
    }), /field material/],
  ])('%s found late: still one line, and the credentials made for the start are removed', async (variable, env, detail) => {
    const run = await serveToExit(env());
    expectOneLineNaming(run, variable);
    expect(run.output).toMatch(detail);
  });

  it('KMS_AUDIT_LOG found late: a log whose last record is not intact', async () => {
    const run = await serveToExit({ KMS_AUDIT_LOG: file('not-intact.jsonl', '{"chain":{"seq":1}}\n') });
    expectOneLineNaming(run, 'KMS_AUDIT_LOG');
    expect(run.output).toMatch(/last record is not intact/);
  });

  // A store whose keys are under another root key than KMS_ROOT_KEY_FILE's: a mistyped path or another store's
  // key. The server used to start and answer KMSInternalException, with a
  // worker's stack trace in its log, for every request on an existing key.
  it('KMS_ROOT_KEY_FILE found late: not the root key of the store\'s material', async () => {
    const server = await startServer({ dataDir: mkdtempSync(join(work, 'keys-under-root-')) });
    const client = server.client();
    try {
      const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
      await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') }));
    } finally {
      client.destroy();
      await server.stop();
    }
    const another = await serveToExit({ KMS_DATA_DIR: server.dataDir, KMS_ROOT_KEY_FILE: file('another-root.key', Buffer.alloc(32, 7).toString('latin1')) });
    expect(another.status, another.output).toBe(2);
    expect(another.output.trim()).toMatch(/^kms-engine: KMS_ROOT_KEY_FILE: [^\n]* is not the root key this store's material is under \(root key [0-9a-f]{16}; given: [0-9a-f]{16}\)$/);
    // A mistyped path is refused before a root key is made there (one was left behind), by serve with one or two
    // front ends and by seed.
    const mistyped = join(work, 'mistyped-root.key');
    const expectMissingFile = (output: string) => {
      expect(output.trim()).toMatch(/^kms-engine: KMS_ROOT_KEY_FILE: \S+ does not exist, and this store's material is under root key [0-9a-f]{16}: give the file that holds it$/);
      expect(output).toContain(mistyped);
      expect(existsSync(mistyped)).toBe(false);
    };
    for (const frontends of ['1', '2']) {
      const run = await serveToExit({ KMS_DATA_DIR: server.dataDir, KMS_ROOT_KEY_FILE: mistyped, KMS_FRONTENDS: frontends });
      expect(run.status, run.output).toBe(2);
      expectMissingFile(run.output);
    }
    const seeded = spawnSync(process.execPath, [BIN, 'seed', file('seed-mistyped-root.json', { keys: [{ keyId: SEED_KEY_ID }] })], {
      env: { ...process.env, KMS_DATA_DIR: server.dataDir, KMS_ROOT_KEY_FILE: mistyped, KMS_WORKERS: '1' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(seeded.status, seeded.stderr).toBe(2);
    expectMissingFile(`${seeded.stdout}${seeded.stderr}`);
    const again = await startServer({ dataDir: server.dataDir });
    await again.remove();
    rmSync(server.dataDir, { recursive: true, force: true });
  });

  // A key keeps the ARN it was made with: a store opened with another KMS_REGION or KMS_ACCOUNT_ID listed its keys
  // under new ARNs (ListKeys) while DescribeKey, Encrypt and Decrypt answered with the old ones.
  it('KMS_REGION or KMS_ACCOUNT_ID found late: not those of the store\'s keys, for serve and for seed', async () => {
    const server = await startServer({ dataDir: mkdtempSync(join(work, 'keys-in-us-east-1-')) });
    const client = server.client();
    let arn: string;
    try {
      arn = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    } finally {
      client.destroy();
      await server.stop();
    }
    const region = await serveToExit({ KMS_DATA_DIR: server.dataDir, KMS_REGION: 'eu-west-1' });
    expect(region.status, region.output).toBe(2);
    expect(region.output.trim()).toBe(`kms-engine: KMS_REGION: the store's keys are in us-east-1, not eu-west-1 (key ${arn})`);
    const account = await serveToExit({ KMS_DATA_DIR: server.dataDir, KMS_ACCOUNT_ID: '444455556666' });
    expect(account.status, account.output).toBe(2);
    expect(account.output.trim()).toBe(`kms-engine: KMS_ACCOUNT_ID: the store's keys are in account 111122223333, not 444455556666 (key ${arn})`);
    const seeded = spawnSync(process.execPath, [BIN, 'seed', file('seed-other-region.json', { keys: [{ keyId: SEED_KEY_ID }] })], {
      env: { ...process.env, KMS_DATA_DIR: server.dataDir, KMS_REGION: 'eu-west-1', KMS_WORKERS: '1' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(seeded.status, seeded.stderr).toBe(2);
    expect(`${seeded.stdout}${seeded.stderr}`.trim()).toMatch(/^kms-engine: KMS_REGION: the store's keys are in us-east-1, not eu-west-1/);
    const again = await startServer({ dataDir: server.dataDir });
    await again.remove();
    rmSync(server.dataDir, { recursive: true, force: true });
  });

  it('KMS_DATA_DIR holding a credentials file that is not one: one line naming it, without quoting the file', async () => {
    for (const content of ['{"accessKeyId": "AKIAEXAMPLEEXAMPLE00", "secretAccessKey": "half-written-secret', '{}']) {
      const dataDir = mkdtempSync(join(work, 'bad-credentials-'));
      writeFileSync(join(dataDir, 'credentials'), content);
      const run = await serveToExit({ KMS_DATA_DIR: dataDir });
      expect(run.status, run.output).toBe(2);
      const lines = run.output.split('\n').filter((line) => line !== '');
      expect(lines, run.output).toHaveLength(1);
      expect(lines[0]).toMatch(/^kms-engine: KMS_DATA_DIR: .*credentials/);
      expect(run.output).not.toContain('half-written-secret');
    }
  });

  it('`kms-engine seed FILE` names KMS_DATA_DIR when it cannot create the data directory', () => {
    const seedFile = file('seed-for-bad-dir.json', { keys: [{ keyId: SEED_KEY_ID }] });
    const dataDir = join(file('seed-data-parent-is-a-file', 'x'), 'data');
    const run = spawnSync(process.execPath, [BIN, 'seed', seedFile], {
      env: { ...process.env, KMS_DATA_DIR: dataDir, KMS_WORKERS: '1' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(run.status, run.stderr).toBe(2);
    expect(`${run.stdout}${run.stderr}`.trim()).toMatch(/^kms-engine: KMS_DATA_DIR: [^\n]*ENOTDIR\)$/);
  });

  it('the next good start on the same data directory creates and prints credentials', async () => {
    const failed = await serveToExit({ PORT: String(takenPort) });
    expectOneLineNaming(failed, 'PORT');
    const server = await startServer({ dataDir: failed.dataDir });
    try {
      expect(server.output().match(/AWS_SECRET_ACCESS_KEY=/g)).toHaveLength(1);
      expect(server.output()).toContain(`AWS_SECRET_ACCESS_KEY=${server.credentials.secretAccessKey}`);
    } finally {
      await server.remove();
    }
  });
});
