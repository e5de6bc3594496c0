// Upgrading in place: a data directory an older release wrote (test/fixtures/upgrade-<commit>/data, made by
// test/fixtures/make-upgrade-fixture.mjs on that commit) is started by the current server as an operator would
// after installing the new release. Every old ciphertext decrypts, old signatures and MACs verify (also with
// node:crypto against the public key the old release gave), private keys agree on ECDH as before, metadata,
// aliases, tags, grants, policies and rotations read as they did, the audit log's chain verifies across the old
// and the new records, and new work (keys, rotations, grants, a restart) goes on on the same directory.
import * as kms from '@aws-sdk/client-kms';
import { spawnSync } from 'node:child_process';
import { constants, createPublicKey, publicEncrypt, verify as verifySignature } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { STORE_FORMAT } from '../../src/store/sqlite.js';
import { runCli } from '../support/cli.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';

interface RecordedKey {
  keyId: string;
  /** Origin EXTERNAL: the material imported, base64. */
  importedMaterial?: string;
  arn: string;
  metadata: Record<string, unknown> & { KeySpec: string; DeletionDate?: string; ValidTo?: string };
  tags: kms.Tag[];
  policy: string;
  grants: Record<string, unknown>[];
  rotationStatus?: Record<string, unknown>;
  rotations?: Record<string, unknown>[];
  publicKey?: string;
}
interface Recorded {
  keys: Record<string, RecordedKey>;
  ciphertexts: { key: string; plaintext: string; ciphertext: string; encryptionContext?: Record<string, string>; EncryptionAlgorithm?: kms.EncryptionAlgorithmSpec }[];
  signatures: { key: string; message: string; messageType: kms.MessageType; algorithm: kms.SigningAlgorithmSpec; signature: string }[];
  macs: { key: string; message: string; algorithm: kms.MacAlgorithmSpec; mac: string }[];
  sharedSecrets: { key: string; peerPublicKey: string; sharedSecret: string }[];
  grants: { key: string; grantId: string; grantToken: string }[];
  aliases: Record<string, unknown>[];
}

const FIXTURES_DIR = join(PROJECT_ROOT, 'test', 'fixtures');
const FIXTURES = readdirSync(FIXTURES_DIR).filter((name) => name.startsWith('upgrade-')).sort();
const bytes = (base64: string) => Buffer.from(base64, 'base64');
/** The SDK's answer as JSON would carry it (Dates as ISO strings), without its $metadata. */
const plain = (value: unknown) => JSON.parse(JSON.stringify(value, (name, v: unknown) => (name === '$metadata' ? undefined : v))) as unknown;
/** The part of an answer that a recorded answer names: later releases may add members, never change or drop one. */
const recordedPart = (recorded: Record<string, unknown>, now: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(recorded).map((name) => [name, now[name]]));

/**
 * OpenSSL's own check of a signature against the public key the old release gave: node:crypto over the message
 * (PSS with the digest's length as salt, as KMS signs), `openssl pkeyutl` over a digest the caller hashed.
 */
function verifiesWithOpenSsl(publicKeyDer: Buffer, algorithm: string, messageType: string, message: Buffer, signature: Buffer): boolean {
  const key = createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' });
  const hash = `sha${/SHA_(\d+)/.exec(algorithm)![1]}`;
  if (messageType === 'DIGEST') {
    const dir = mkdtempSync(join(tmpdir(), 'kms-upgrade-sig-'));
    try {
      writeFileSync(join(dir, 'key.pem'), key.export({ type: 'spki', format: 'pem' }));
      writeFileSync(join(dir, 'digest'), message);
      writeFileSync(join(dir, 'sig'), signature);
      const run = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'key.pem', '-in', 'digest', '-sigfile', 'sig'], { cwd: dir });
      return run.status === 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const options = algorithm.startsWith('RSASSA_PSS') ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(hash.slice(3)) / 8 } : { key };
  return verifySignature(hash, message, options, signature);
}

describe.each(FIXTURES)('a data directory written by %s', (fixture) => {
  const recorded = JSON.parse(readFileSync(join(FIXTURES_DIR, fixture, 'expected.json'), 'utf8')) as Recorded;
  // Made in beforeAll, not here: a describe that a name filter skips still runs its body, never its afterAll.
  let work: string;
  let dataDir: string;
  const oldAuditLines = readFileSync(join(FIXTURES_DIR, fixture, 'data', 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  let server: TestServer;
  let client: kms.KMSClient;
  const key = (name: string) => recorded.keys[name]!;
  const now = Date.now();
  const deletionPassed = (name: string) => key(name).metadata.DeletionDate !== undefined && Date.parse(key(name).metadata.DeletionDate!) <= now;
  const expired = (name: string) => key(name).metadata.ValidTo !== undefined && Date.parse(key(name).metadata.ValidTo!) <= now;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), `kms-upgrade-${fixture}-`));
    dataDir = join(work, 'data');
    cpSync(join(FIXTURES_DIR, fixture, 'data'), dataDir, { recursive: true });
    server = await startServer({ dataDir });
    client = server.client();
  });
  afterAll(async () => {
    await server?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('decrypts every ciphertext the old release made, under its encryption context, naming the same key', async () => {
    for (const c of recorded.ciphertexts) {
      if (deletionPassed(c.key) || expired(c.key)) continue;
      // A disabled key and one pending deletion refuse to decrypt, as before: checked once enabled, below.
      if (key(c.key).metadata.KeyState !== 'Enabled') continue;
      const out = await client.send(new kms.DecryptCommand({
        CiphertextBlob: bytes(c.ciphertext), EncryptionContext: c.encryptionContext, EncryptionAlgorithm: c.EncryptionAlgorithm,
        ...(c.EncryptionAlgorithm ? { KeyId: key(c.key).keyId } : {}),
      }));
      expect(out.KeyId, `${c.key}: ${bytes(c.plaintext).toString()}`).toBe(key(c.key).arn);
      expect(Buffer.from(out.Plaintext!).equals(bytes(c.plaintext)), `${c.key}: plaintext`).toBe(true);
    }
  });

  it('still refuses an old ciphertext under another encryption context', async () => {
    const c = recorded.ciphertexts.find((entry) => entry.key === 'rotated' && entry.encryptionContext?.app === 'billing')!;
    await expect(client.send(new kms.DecryptCommand({ CiphertextBlob: bytes(c.ciphertext), EncryptionContext: { app: 'other' } })))
      .rejects.toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('gives the same public keys, and old signatures verify with the engine and with OpenSSL; new ones with the old public key', async () => {
    for (const [name, k] of Object.entries(recorded.keys)) {
      if (k.publicKey === undefined) continue;
      const { PublicKey } = await client.send(new kms.GetPublicKeyCommand({ KeyId: k.keyId }));
      expect(Buffer.from(PublicKey!).toString('base64'), name).toBe(k.publicKey);
    }
    for (const s of recorded.signatures) {
      const k = key(s.key);
      const { SignatureValid } = await client.send(new kms.VerifyCommand({
        KeyId: k.keyId, Message: bytes(s.message), MessageType: s.messageType, SigningAlgorithm: s.algorithm, Signature: bytes(s.signature),
      }));
      expect(SignatureValid, `${s.key} ${s.algorithm} ${s.messageType}`).toBe(true);
      expect(verifiesWithOpenSsl(bytes(k.publicKey!), s.algorithm, s.messageType, bytes(s.message), bytes(s.signature)), `${s.key} ${s.algorithm} ${s.messageType}`).toBe(true);
      const fresh = await client.send(new kms.SignCommand({ KeyId: k.keyId, Message: bytes(s.message), MessageType: s.messageType, SigningAlgorithm: s.algorithm }));
      expect(verifiesWithOpenSsl(bytes(k.publicKey!), s.algorithm, s.messageType, bytes(s.message), Buffer.from(fresh.Signature!)), `new ${s.key} ${s.algorithm} ${s.messageType}`).toBe(true);
    }
  });

  it('verifies old MACs and makes the same MAC again; derives the same ECDH secret from the old private key', async () => {
    for (const m of recorded.macs) {
      const { MacValid } = await client.send(new kms.VerifyMacCommand({ KeyId: key(m.key).keyId, Message: bytes(m.message), MacAlgorithm: m.algorithm, Mac: bytes(m.mac) }));
      expect(MacValid).toBe(true);
      const { Mac } = await client.send(new kms.GenerateMacCommand({ KeyId: key(m.key).keyId, Message: bytes(m.message), MacAlgorithm: m.algorithm }));
      expect(Buffer.from(Mac!).toString('base64')).toBe(m.mac);
    }
    for (const d of recorded.sharedSecrets) {
      const { SharedSecret } = await client.send(new kms.DeriveSharedSecretCommand({ KeyId: key(d.key).keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: bytes(d.peerPublicKey) }));
      expect(Buffer.from(SharedSecret!).toString('base64')).toBe(d.sharedSecret);
    }
  });

  it('describes every key as the old release did: state, dates, deletion schedule, imported material expiry', async () => {
    for (const [name, k] of Object.entries(recorded.keys)) {
      if (deletionPassed(name)) {
        await expect(client.send(new kms.DescribeKeyCommand({ KeyId: k.keyId }))).rejects.toMatchObject({ name: 'NotFoundException' });
        continue;
      }
      const { KeyMetadata } = await client.send(new kms.DescribeKeyCommand({ KeyId: k.keyId }));
      const current = plain(KeyMetadata) as Record<string, unknown>;
      if (expired(name)) {
        expect(current.KeyState, name).toBe('PendingImport');
        continue;
      }
      // Releases before 4cec4ae showed PendingDeletionWindowInDays on a key pending deletion; AWS shows it only on
      // multi-Region primaries awaiting their replicas' deletion, so that one member is meant to be gone.
      const { PendingDeletionWindowInDays: _dropped, ...described } = k.metadata;
      expect(recordedPart(described, current), name).toEqual(described);
    }
  });

  it('counts the old keys per state for kms_keys, and tracks their use from the upgrade on', async () => {
    const states = new Map<string, number>();
    for (const [name, k] of Object.entries(recorded.keys)) {
      if (deletionPassed(name)) continue;
      const state = expired(name) ? 'PendingImport' : k.metadata.KeyState as string;
      states.set(state, (states.get(state) ?? 0) + 1);
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const state of ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport']) {
      expect(metrics, state).toContain(`kms_keys{key_state="${state}"} ${states.get(state) ?? 0}\n`);
    }
    const rotated = key('rotated');
    await client.send(new kms.GenerateDataKeyWithoutPlaintextCommand({ KeyId: rotated.keyId, KeySpec: 'AES_256' }));
    const usage = await client.send(new kms.GetKeyLastUsageCommand({ KeyId: rotated.keyId }));
    expect(usage.KeyLastUsage?.Operation).toBe('GenerateDataKeyWithoutPlaintext');
    expect(usage.TrackingStartDate).toBeInstanceOf(Date);
  });

  it('deletes and re-imports an old key\'s imported material under the same material id, and its old ciphertexts decrypt again', async () => {
    const imported = key('imported');
    const material = bytes(imported.importedMaterial!);
    const { KeyMaterialId } = await client.send(new kms.DeleteImportedKeyMaterialCommand({ KeyId: imported.keyId }));
    const params = await client.send(new kms.GetParametersForImportCommand({ KeyId: imported.keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
    const reimported = await client.send(new kms.ImportKeyMaterialCommand({
      KeyId: imported.keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }));
    expect(reimported.KeyMaterialId).toBe(KeyMaterialId);
    for (const c of recorded.ciphertexts.filter((entry) => entry.key === 'imported')) {
      const out = await client.send(new kms.DecryptCommand({ CiphertextBlob: bytes(c.ciphertext), EncryptionContext: c.encryptionContext }));
      expect(Buffer.from(out.Plaintext!).equals(bytes(c.plaintext))).toBe(true);
    }
  });

  it('keeps tags, key policies, grants (their tokens still accepted), aliases and rotations', async () => {
    const live = Object.entries(recorded.keys).filter(([name]) => !deletionPassed(name));
    for (const [name, k] of live) {
      const { Tags } = await client.send(new kms.ListResourceTagsCommand({ KeyId: k.keyId }));
      // In key order since 131efa9 (older releases listed them as added).
      expect(Tags ?? [], name).toEqual([...k.tags].sort((a, b) => (a.TagKey! < b.TagKey! ? -1 : 1)));
      const { Policy } = await client.send(new kms.GetKeyPolicyCommand({ KeyId: k.keyId, PolicyName: 'default' }));
      expect(Policy, name).toBe(k.policy);
      const { Grants } = await client.send(new kms.ListGrantsCommand({ KeyId: k.keyId }));
      expect((plain(Grants ?? []) as Record<string, unknown>[]).map((g, i) => recordedPart(k.grants[i] ?? {}, g)), name).toEqual(k.grants);
      if (k.rotationStatus !== undefined) {
        const status = plain(await client.send(new kms.GetKeyRotationStatusCommand({ KeyId: k.keyId }))) as Record<string, unknown>;
        expect(recordedPart(k.rotationStatus, status), name).toEqual(k.rotationStatus);
        const { Rotations } = await client.send(new kms.ListKeyRotationsCommand({ KeyId: k.keyId }));
        expect((plain(Rotations ?? []) as Record<string, unknown>[]).map((r, i) => recordedPart(k.rotations![i] ?? {}, r)), name).toEqual(k.rotations);
      }
    }
    const { Aliases } = await client.send(new kms.ListAliasesCommand({}));
    const aliases = plain(Aliases) as Record<string, unknown>[];
    for (const alias of recorded.aliases) {
      const target = Object.entries(recorded.keys).find(([, k]) => k.keyId === alias.TargetKeyId)![0];
      if (deletionPassed(target)) continue;
      expect(aliases.find((a) => a.AliasName === alias.AliasName)).toEqual(alias);
    }
    const billing = recorded.grants.find((g) => g.key === 'rotated')!;
    const { Grants: retirable } = await client.send(new kms.ListRetirableGrantsCommand({ RetiringPrincipal: `arn:aws:iam::${server.accountId}:user/ops` }));
    expect(retirable!.map((g) => g.GrantId)).toEqual([billing.grantId]);
    await expect(client.send(new kms.EncryptCommand({
      KeyId: 'alias/upgrade/rotated', Plaintext: Buffer.from('with an old grant token'), EncryptionContext: { app: 'billing' }, GrantTokens: [billing.grantToken],
    }))).resolves.toMatchObject({ KeyId: key('rotated').arn });
  });

  it('goes on working: new keys, a rotation of an old key, enabling the disabled key, cancelling the deletion, new grants and aliases', async () => {
    const { KeyMetadata } = await client.send(new kms.CreateKeyCommand({ Description: 'made after the upgrade', Tags: [{ TagKey: 'after', TagValue: 'upgrade' }] }));
    const fresh = await client.send(new kms.EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('new'), EncryptionContext: { n: '1' } }));
    await expect(client.send(new kms.DecryptCommand({ CiphertextBlob: fresh.CiphertextBlob, EncryptionContext: { n: '1' } })))
      .resolves.toMatchObject({ KeyId: KeyMetadata!.Arn });
    await client.send(new kms.CreateAliasCommand({ AliasName: 'alias/upgrade/after', TargetKeyId: KeyMetadata!.KeyId }));
    await client.send(new kms.UpdateAliasCommand({ AliasName: 'alias/upgrade/second-name', TargetKeyId: KeyMetadata!.KeyId }));

    const rotated = key('rotated');
    await client.send(new kms.RotateKeyOnDemandCommand({ KeyId: rotated.keyId }));
    const { Rotations } = await client.send(new kms.ListKeyRotationsCommand({ KeyId: rotated.keyId }));
    expect(Rotations).toHaveLength(rotated.rotations!.length + 1);
    const after = await client.send(new kms.EncryptCommand({ KeyId: rotated.keyId, Plaintext: Buffer.from('after rotation'), EncryptionContext: { app: 'billing' } }));
    await expect(client.send(new kms.DecryptCommand({ CiphertextBlob: after.CiphertextBlob, EncryptionContext: { app: 'billing' } })))
      .resolves.toMatchObject({ KeyId: rotated.arn });
    for (const c of recorded.ciphertexts.filter((entry) => entry.key === 'rotated')) {
      const out = await client.send(new kms.DecryptCommand({ CiphertextBlob: bytes(c.ciphertext), EncryptionContext: c.encryptionContext }));
      expect(Buffer.from(out.Plaintext!).equals(bytes(c.plaintext))).toBe(true);
    }
    await client.send(new kms.CreateGrantCommand({
      KeyId: rotated.keyId, GranteePrincipal: `arn:aws:iam::${server.accountId}:user/bob`, Operations: ['Decrypt'], Name: 'after-upgrade',
    }));
    const { Grants } = await client.send(new kms.ListGrantsCommand({ KeyId: rotated.keyId }));
    expect(Grants!.map((g) => g.Name).sort()).toEqual(['after-upgrade', 'billing-app']);

    await client.send(new kms.EnableKeyCommand({ KeyId: key('disabled').keyId }));
    if (!deletionPassed('pending-deletion')) await client.send(new kms.CancelKeyDeletionCommand({ KeyId: key('pending-deletion').keyId }));
    for (const name of ['disabled', ...(deletionPassed('pending-deletion') ? [] : ['pending-deletion'])]) {
      if (name === 'pending-deletion') await client.send(new kms.EnableKeyCommand({ KeyId: key(name).keyId }));
      for (const c of recorded.ciphertexts.filter((entry) => entry.key === name)) {
        const out = await client.send(new kms.DecryptCommand({ CiphertextBlob: bytes(c.ciphertext), EncryptionContext: c.encryptionContext }));
        expect(Buffer.from(out.Plaintext!).equals(bytes(c.plaintext)), name).toBe(true);
      }
    }
    const awaiting = key('awaiting-import');
    const { KeyMetadata: pending } = await client.send(new kms.DescribeKeyCommand({ KeyId: awaiting.keyId }));
    expect(pending!.KeyState).toBe('PendingImport');
  });

  it('verifies the audit log across the old release\'s records and the new ones, and starts again on the upgraded directory', async () => {
    expect(await server.stop()).toBe(0);
    const audit = join(dataDir, 'audit.jsonl');
    const lines = readFileSync(audit, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(oldAuditLines);
    const verified = runCli(['audit', 'verify', audit]);
    expect(verified.status, verified.output).toBe(0);

    server = await startServer({ dataDir });
    client = server.client();
    const c = recorded.ciphertexts.find((entry) => entry.key === 'rotated')!;
    const out = await client.send(new kms.DecryptCommand({ CiphertextBlob: bytes(c.ciphertext), EncryptionContext: c.encryptionContext }));
    expect(Buffer.from(out.Plaintext!).equals(bytes(c.plaintext))).toBe(true);
    const { Aliases } = await client.send(new kms.ListAliasesCommand({}));
    expect(Aliases!.map((a) => a.AliasName)).toContain('alias/upgrade/after');
    expect(existsSync(join(dataDir, 'root.key'))).toBe(true);
  });
});

describe('a store a newer release wrote (a downgrade)', () => {
  it('is refused at start with one line naming KMS_DATA_DIR, and left as it was', async () => {
    const work = mkdtempSync(join(tmpdir(), 'kms-downgrade-'));
    try {
      const dataDir = join(work, 'data');
      cpSync(join(FIXTURES_DIR, 'upgrade-e2e62e9', 'data'), dataDir, { recursive: true });
      await (await startServer({ dataDir })).stop();
      const store = join(dataDir, 'kms.sqlite');
      const db = new Database(store);
      expect(db.pragma('user_version', { simple: true }), 'the upgrade marks the store with its format').toBe(STORE_FORMAT);
      db.pragma(`user_version = ${STORE_FORMAT + 1}`);
      db.close();
      const before = readFileSync(store);

      const run = runCli(['serve'], { KMS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }, { timeoutMs: 30_000 });
      expect(run.status, run.output).toBe(2);
      expect(run.lines).toEqual([`kms-engine: KMS_DATA_DIR: ${store} was written by a newer kms-engine (store format ${STORE_FORMAT + 1}, `
        + `this release reads up to ${STORE_FORMAT}): run that release or a later one, or restore the backup taken before the upgrade`]);
      expect(readFileSync(store).equals(before)).toBe(true);
      expect(existsSync(`${store}-wal`)).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

const { Client } = pg;

describe('a PostgreSQL store a newer release migrated', () => {
  let postgres: TestPostgres;
  beforeAll(async () => { postgres = await startPostgres(); });
  afterAll(async () => { await postgres?.remove(); });

  it('is refused at start with one line naming KMS_STORE, before anything is written', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-downgrade-pg-'));
    try {
      const env = { KMS_STORE: postgres.url, KMS_ACCESS_KEY_ID: 'AKIADOWNGRADE0000001', KMS_SECRET_ACCESS_KEY: 'downgrade-secret' };
      const server = await startServer({ dataDir, env });
      const { KeyMetadata } = await server.client().send(new kms.CreateKeyCommand({}));
      await server.stop();
      const pg = new Client({ connectionString: postgres.url });
      await pg.connect();
      try {
        const { rows } = await pg.query<{ version: number }>('SELECT max(version) AS version FROM kms_schema_migrations');
        const newer = rows[0]!.version + 1;
        await pg.query("INSERT INTO kms_schema_migrations (version, description) VALUES ($1, 'from a newer release')", [newer]);
        const keysBefore = (await pg.query('SELECT key_id, version, doc FROM kms_keys ORDER BY key_id')).rows;

        const run = runCli(['serve'], { ...env, KMS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }, { timeoutMs: 30_000 });
        expect(run.status, run.output).toBe(2);
        expect(run.lines).toEqual([`kms-engine: KMS_STORE: cannot open the PostgreSQL store (the store was migrated by a newer kms-engine `
          + `(schema version ${newer}, this release knows up to ${newer - 1}): run that release or a later one, or restore the backup taken before the upgrade)`]);
        expect((await pg.query('SELECT key_id, version, doc FROM kms_keys ORDER BY key_id')).rows).toEqual(keysBefore);
        expect(keysBefore.map((row: { key_id: string }) => row.key_id)).toContain(KeyMetadata!.KeyId);
      } finally {
        await pg.end();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
