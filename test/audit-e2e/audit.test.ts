// Issue 4 end to end, the audit log: one CloudTrail-shaped JSON line per call (success or failure) with no
// secret anywhere, `kms-engine audit verify` on intact and tampered copies, the chain continuing across a
// restart, and calls failing (not going unrecorded) when the log cannot be written. One real server (restarted
// once on the same data directory), driven by the real AWS SDK with several identities.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand,
  GenerateDataKeyPairCommand, GenerateMacCommand, GenerateRandomCommand, GetParametersForImportCommand, KMSClient,
  ListKeysCommand, PutKeyPolicyCommand, ReEncryptCommand, RetireGrantCommand, SignCommand, VerifyCommand, VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startServer, type TestServer } from '../support/server.js';
import {
  ACCOUNT, accountAdmin, allow, arnOf, credentialsOf, failure, IDENTITIES, keyPolicy, REGION, ROOT_ARN, writeIdentitiesFile,
} from '../access/support.js';

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const dataDir = mkdtempSync(join(tmpdir(), 'kms-engine-audit-e2e-'));
const logPath = join(dataDir, 'audit.jsonl');
const identitiesFile = writeIdentitiesFile(dataDir);
const rootCredentials = credentialsOf('root');
const env = {
  KMS_ACCESS_KEY_ID: rootCredentials.accessKeyId, KMS_SECRET_ACCESS_KEY: rootCredentials.secretAccessKey,
  KMS_IDENTITIES: identitiesFile, KMS_ACCOUNT_ID: ACCOUNT, KMS_REGION: REGION,
};

let server: TestServer;
let root: KMSClient;
const start = async () => {
  server = await startServer({ dataDir, env });
  root = server.client();
};

beforeAll(start);
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Line { chain: { seq: number; prev: string; hash: string }; [field: string]: unknown }
const readLines = (path = logPath): string[] => readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');
const readRecords = (path = logPath): Line[] => readLines(path).map((line) => JSON.parse(line) as Line);

/** Runs `kms-engine audit verify FILE` as a user would. */
function verify(path: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, 'audit', 'verify', path], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A copy of the live log (and its checkpoint) to tamper with. */
function copyLog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kms-engine-audit-copy-'));
  const copy = join(dir, 'audit.jsonl');
  copyFileSync(logPath, copy);
  copyFileSync(`${logPath}.head`, `${copy}.head`);
  return copy;
}

/** Sends a command and returns its request id with its output or AWS error name. */
async function call<T>(client: KMSClient, command: object): Promise<{ requestId: string; output?: T; error?: string }> {
  try {
    const output = await client.send(command as never) as T & { $metadata: { requestId?: string } };
    return { requestId: output.$metadata.requestId!, output };
  } catch (error) {
    const e = error as { name: string; $metadata?: { requestId?: string } };
    return { requestId: e.$metadata!.requestId!, error: e.name };
  }
}

const b64 = (bytes: Uint8Array | undefined): string => Buffer.from(bytes!).toString('base64');
const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes!).toString('hex');

describe('records', () => {
  it('writes one CloudTrail record per call, success or failure, and no secret anywhere', async () => {
    const bob = server.client({ credentials: credentialsOf('bob') });
    const secrets: Record<string, string> = {};
    const calls: Array<{ name: string; requestId: string; error?: string }> = [];
    const run = async <T>(name: string, client: KMSClient, command: object) => {
      const result = await call<T>(client, command);
      calls.push({ name, requestId: result.requestId, ...(result.error !== undefined ? { error: result.error } : {}) });
      return result;
    };

    const symmetric = (await run<{ KeyMetadata: { Arn: string; KeyId: string } }>('CreateKey', root, new CreateKeyCommand({ Description: 'audited' }))).output!.KeyMetadata;
    const signing = (await run<{ KeyMetadata: { Arn: string } }>('CreateKey', root, new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).output!.KeyMetadata;
    const hmac = (await run<{ KeyMetadata: { Arn: string } }>('CreateKey', root, new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).output!.KeyMetadata;
    const external = (await run<{ KeyMetadata: { Arn: string } }>('CreateKey', root, new CreateKeyCommand({ Origin: 'EXTERNAL' }))).output!.KeyMetadata;

    const plaintext = Buffer.from(`audit-plaintext-${Date.now()}-do-not-log`);
    secrets.plaintext = plaintext.toString('utf8');
    secrets.plaintextBase64 = plaintext.toString('base64');
    const context = { tenant: 'audit-tenant' };
    const encrypted = await run<{ CiphertextBlob: Uint8Array }>('Encrypt', root, new EncryptCommand({ KeyId: symmetric.KeyId, Plaintext: plaintext, EncryptionContext: context }));
    secrets.ciphertext = b64(encrypted.output!.CiphertextBlob);
    await run('Decrypt', root, new DecryptCommand({ CiphertextBlob: encrypted.output!.CiphertextBlob, EncryptionContext: context }));
    const dataKey = await run<{ Plaintext: Uint8Array; CiphertextBlob: Uint8Array }>('GenerateDataKey', root, new GenerateDataKeyCommand({ KeyId: symmetric.Arn, KeySpec: 'AES_256' }));
    secrets.dataKey = b64(dataKey.output!.Plaintext);
    secrets.dataKeyHex = hex(dataKey.output!.Plaintext);
    secrets.dataKeyBlob = b64(dataKey.output!.CiphertextBlob);
    const pair = await run<{ PrivateKeyPlaintext: Uint8Array; PrivateKeyCiphertextBlob: Uint8Array }>('GenerateDataKeyPair', root, new GenerateDataKeyPairCommand({ KeyId: symmetric.KeyId, KeyPairSpec: 'ECC_NIST_P256' }));
    secrets.privateKey = b64(pair.output!.PrivateKeyPlaintext);
    secrets.privateKeyBlob = b64(pair.output!.PrivateKeyCiphertextBlob);
    const reEncrypted = await run<{ CiphertextBlob: Uint8Array }>('ReEncrypt', root, new ReEncryptCommand({ CiphertextBlob: encrypted.output!.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: symmetric.KeyId }));
    secrets.reEncrypted = b64(reEncrypted.output!.CiphertextBlob);
    const message = Buffer.from(`audit-message-${Date.now()}-do-not-log`);
    secrets.message = message.toString('base64');
    const signed = await run<{ Signature: Uint8Array }>('Sign', root, new SignCommand({ KeyId: signing.Arn, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    secrets.signature = b64(signed.output!.Signature);
    await run('Verify', root, new VerifyCommand({ KeyId: signing.Arn, Message: message, Signature: signed.output!.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }));
    const mac = await run<{ Mac: Uint8Array }>('GenerateMac', root, new GenerateMacCommand({ KeyId: hmac.Arn, Message: message, MacAlgorithm: 'HMAC_SHA_256' }));
    secrets.mac = b64(mac.output!.Mac);
    await run('VerifyMac', root, new VerifyMacCommand({ KeyId: hmac.Arn, Message: message, Mac: mac.output!.Mac, MacAlgorithm: 'HMAC_SHA_256' }));
    const random = await run<{ Plaintext: Uint8Array }>('GenerateRandom', root, new GenerateRandomCommand({ NumberOfBytes: 32 }));
    secrets.random = b64(random.output!.Plaintext);
    const importParameters = await run<{ ImportToken: Uint8Array; PublicKey: Uint8Array }>('GetParametersForImport', root, new GetParametersForImportCommand({
      KeyId: external.Arn, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    secrets.importToken = b64(importParameters.output!.ImportToken);
    secrets.wrappingKey = b64(importParameters.output!.PublicKey);
    const granted = await run<{ GrantToken: string; GrantId: string }>('CreateGrant', root, new CreateGrantCommand({ KeyId: symmetric.KeyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt'] }));
    secrets.grantToken = granted.output!.GrantToken;
    await run('Encrypt', bob, new EncryptCommand({ KeyId: symmetric.KeyId, Plaintext: plaintext, GrantTokens: [granted.output!.GrantToken] }));
    await run('RetireGrant', root, new RetireGrantCommand({ GrantToken: granted.output!.GrantToken }));
    const policy = keyPolicy(accountAdmin, allow(arnOf('bob'), 'kms:DescribeKey'));
    await run('PutKeyPolicy', root, new PutKeyPolicyCommand({ KeyId: symmetric.KeyId, PolicyName: 'default', Policy: policy }));
    // Failures: refused by policy, bad input, missing key, unknown caller.
    await run('Encrypt', bob, new EncryptCommand({ KeyId: symmetric.KeyId, Plaintext: plaintext }));
    await run('Decrypt', root, new DecryptCommand({ CiphertextBlob: Buffer.from(secrets.plaintext) }));
    await run('DescribeKey', root, new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' }));
    const stranger = server.client({ credentials: { accessKeyId: 'AKIASTRANGERXXXXXXXX', secretAccessKey: 'stranger-secret-stranger-secret' } });
    await run('ListKeys', stranger, new ListKeysCommand({}));

    expect(calls.filter((c) => c.error !== undefined).map((c) => c.error)).toEqual([
      'AccessDeniedException', 'InvalidCiphertextException', 'NotFoundException', 'UnrecognizedClientException',
    ]);

    const text = readFileSync(logPath, 'utf8');
    const records = readRecords();
    const byRequest = new Map<string, Line[]>();
    for (const record of records) byRequest.set(record.requestID as string, [...byRequest.get(record.requestID as string) ?? [], record]);
    for (const { name, requestId, error } of calls) {
      const matching = byRequest.get(requestId) ?? [];
      expect(matching, `${name} ${requestId}`).toHaveLength(1);
      const record = matching[0]!;
      expect(record).toMatchObject({
        eventVersion: '1.11', eventSource: 'kms.amazonaws.com', eventName: name, awsRegion: REGION, sourceIPAddress: '127.0.0.1',
        eventType: 'AwsApiCall', managementEvent: true, eventCategory: 'Management',
      });
      expect(record.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(record.eventID).toMatch(/^[0-9a-f-]{36}$/);
      expect(record.userAgent).toContain('aws-sdk-js');
      if (error === undefined) expect(record).not.toHaveProperty('errorCode');
      else expect(record.errorCode).toBe(error);
    }

    const recordOf = (index: number): Line => byRequest.get(calls[index]!.requestId)![0]!;
    const named = (name: string, nth = 0): Line => recordOf(calls.map((c, i) => [c, i] as const).filter(([c]) => c.name === name)[nth]![1]);
    // Root identity, key resources, response elements only for management operations.
    expect(named('CreateKey').userIdentity).toEqual({ type: 'Root', principalId: ACCOUNT, arn: ROOT_ARN, accountId: ACCOUNT, accessKeyId: rootCredentials.accessKeyId });
    expect((named('CreateKey').responseElements as { keyMetadata: { keyId: string } }).keyMetadata.keyId).toBe(symmetric.KeyId);
    expect(named('CreateKey').readOnly).toBe(false);
    expect(named('Encrypt')).toMatchObject({
      readOnly: true, responseElements: null,
      requestParameters: { keyId: symmetric.KeyId, encryptionContext: context },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: symmetric.Arn }],
      recipientAccountId: ACCOUNT,
    });
    expect(named('Decrypt').requestParameters).toMatchObject({ keyId: symmetric.Arn, encryptionContext: context });
    expect(named('GenerateDataKey').requestParameters).toEqual({ keyId: symmetric.Arn, keySpec: 'AES_256' });
    expect(named('GenerateDataKeyPair').requestParameters).toEqual({ keyId: symmetric.KeyId, keyPairSpec: 'ECC_NIST_P256' });
    expect(named('Sign').requestParameters).toEqual({ keyId: signing.Arn, messageType: 'RAW', signingAlgorithm: 'ECDSA_SHA_256' });
    expect(named('GenerateMac').requestParameters).toEqual({ keyId: hmac.Arn, macAlgorithm: 'HMAC_SHA_256' });
    expect(named('GenerateRandom')).toMatchObject({ requestParameters: null, responseElements: null, resources: [] });
    expect(named('CreateGrant')).toMatchObject({
      requestParameters: { keyId: symmetric.KeyId, granteePrincipal: arnOf('bob'), operations: ['Encrypt'] },
      responseElements: { grantId: granted.output!.GrantId },
    });
    // Retired by token: the token is never logged, the grant id it names is.
    expect(named('RetireGrant')).toMatchObject({
      requestParameters: null, resources: [{ ARN: symmetric.Arn }], additionalEventData: { grantId: granted.output!.GrantId },
    });
    expect(named('PutKeyPolicy').requestParameters).toEqual({ keyId: symmetric.KeyId, policyName: 'default', policy });
    // The grantee's call, and the refused call, carry the caller's identity.
    const bobIdentity = { type: 'IAMUser', arn: arnOf('bob'), accountId: ACCOUNT, accessKeyId: credentialsOf('bob').accessKeyId, userName: 'bob' };
    expect(named('Encrypt', 1)).toMatchObject({ userIdentity: bobIdentity, requestParameters: { keyId: symmetric.KeyId } });
    expect(named('Encrypt', 2)).toMatchObject({
      userIdentity: bobIdentity, errorCode: 'AccessDeniedException', responseElements: null,
      errorMessage: `User: ${arnOf('bob')} is not authorized to perform: kms:Encrypt on resource: ${symmetric.Arn} because no identity-based policy allows the kms:Encrypt action`,
      resources: [{ ARN: symmetric.Arn }],
    });
    expect(named('ListKeys')).toMatchObject({ userIdentity: { type: 'Unknown' }, errorCode: 'UnrecognizedClientException' });

    // No secret, in any encoding we can think of, and no member that could carry one.
    const credentials = [rootCredentials, ...Object.keys(IDENTITIES).map((name) => credentialsOf(name))];
    for (const { secretAccessKey } of credentials) secrets[`secret ${secretAccessKey}`] = secretAccessKey;
    secrets.strangerSecret = 'stranger-secret-stranger-secret';
    const rootKey = readFileSync(join(dataDir, 'root.key'));
    secrets.rootKeyBase64 = rootKey.toString('base64');
    secrets.rootKeyHex = rootKey.toString('hex');
    for (const [what, secret] of Object.entries(secrets)) {
      // A middle slice catches a secret logged truncated or re-wrapped, too.
      const slice = secret.length > 40 ? secret.slice(8, 40) : secret;
      expect(text.includes(slice), `${what} appears in the audit log`).toBe(false);
    }
    for (const member of ['plaintext', 'ciphertextBlob', 'message', 'signature', 'mac', 'privateKeyPlaintext', 'publicKey', 'grantToken', 'grantTokens', 'importToken', 'secretAccessKey']) {
      expect(text, member).not.toMatch(new RegExp(`"${member}"`, 'i'));
    }
  });
});

describe('kms-engine audit verify', () => {
  it('exits 0 on the intact log, through npx as well', () => {
    const result = verify(logPath);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^OK .*: \d+ records intact \(checkpoint matched\)/);
    const viaNpx = execFileSync('npx', ['--no-install', 'kms-engine', 'audit', 'verify', logPath], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(viaNpx).toContain('records intact');
  });

  it('names the first broken record of an edited, inserted or deleted record, and of records cut off the end', () => {
    const lines = readLines();
    expect(lines.length).toBeGreaterThan(6);
    const eventIdOf = (line: string) => (JSON.parse(line) as { eventID: string }).eventID;
    const tampered = (change: (lines: string[]) => string[]) => {
      const copy = copyLog();
      writeFileSync(copy, `${change([...lines]).join('\n')}\n`);
      return verify(copy);
    };

    const edited = tampered((l) => { l[2] = l[2]!.replace('"eventName":"', '"eventName":"X'); return l; });
    expect(edited.status).toBe(1);
    expect(edited.stdout).toContain(`line 3 (eventID ${eventIdOf(lines[2]!)})`);
    expect(edited.stdout).toContain('edited');

    // Flip the error of a refused call into a success: the kind of edit that hides an attempt.
    const denied = lines.findIndex((line) => line.includes('"errorCode":"AccessDeniedException"'));
    const hidden = tampered((l) => { l[denied] = l[denied]!.replace(/"errorCode":"AccessDeniedException","errorMessage":"[^"]*",/, ''); return l; });
    expect(hidden.status).toBe(1);
    expect(hidden.stdout).toContain(`line ${denied + 1} `);

    const inserted = tampered((l) => { l.splice(4, 0, l[3]!); return l; });
    expect(inserted.status).toBe(1);
    expect(inserted.stdout).toContain('line 5 ');
    expect(inserted.stdout).toContain('inserted');

    const deleted = tampered((l) => { l.splice(3, 1); return l; });
    expect(deleted.status).toBe(1);
    expect(deleted.stdout).toContain(`line 4 (eventID ${eventIdOf(lines[4]!)})`);
    expect(deleted.stdout).toContain('removed');

    const cut = tampered((l) => l.slice(0, -2));
    expect(cut.status).toBe(1);
    expect(cut.stdout).toContain('removed from the end');
  });
});

describe('durability of the chain', () => {
  it('continues the chain across a restart', async () => {
    const before = readRecords();
    const last = before.at(-1)!;
    expect(await server.stop()).toBe(0);
    await start();
    const { KeyMetadata } = await root.send(new CreateKeyCommand({}));
    const after = readRecords();
    const next = after[before.length]!;
    expect(next.chain).toMatchObject({ seq: last.chain.seq + 1, prev: last.chain.hash });
    expect(after.at(-1)!.requestID).toBeDefined();
    expect(after.some((record) => (record.responseElements as { keyMetadata?: { keyId?: string } } | null)?.keyMetadata?.keyId === KeyMetadata!.KeyId)).toBe(true);
    expect(verify(logPath).status).toBe(0);
  });

  it('fails calls with KMSInternalException while the log cannot be written, and records nothing for them', async () => {
    const { KeyMetadata } = await root.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    const pid = String(server.process.pid);
    const size = statSync(logPath).size;
    // The server's file size limit at the log's current size: the next append fails (EFBIG), as on a full disk.
    execFileSync('prlimit', ['--pid', pid, `--fsize=${size}:unlimited`]);
    let refused: Awaited<ReturnType<typeof call>>[];
    try {
      refused = [
        await call(root, new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('unrecorded') })),
        await call(root, new DescribeKeyCommand({ KeyId: keyId })),
        await call(server.client({ credentials: credentialsOf('bob') }), new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })),
      ];
    } finally {
      execFileSync('prlimit', ['--pid', pid, '--fsize=unlimited:unlimited']);
    }
    for (const result of refused) expect(result.error).toBe('KMSInternalException');
    expect(statSync(logPath).size).toBe(size);
    // Writable again: calls succeed, the chain is intact, and the refused calls left no record.
    const recorded = await call(root, new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('recorded') }));
    expect(recorded.error).toBeUndefined();
    const requestIds = new Set(readRecords().map((record) => record.requestID));
    expect(requestIds.has(recorded.requestId)).toBe(true);
    for (const result of refused) expect(requestIds.has(result.requestId)).toBe(false);
    expect(verify(logPath).status).toBe(0);
  });

  it('fails every call when KMS_AUDIT_LOG points at a file that cannot be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-engine-audit-full-'));
    const broken = join(dir, 'audit.jsonl');
    symlinkSync('/dev/full', broken);
    const full = await startServer({ dataDir: dir, env: { ...env, KMS_AUDIT_LOG: broken } });
    try {
      const client = full.client();
      expect(await failure(client.send(new ListKeysCommand({})))).toMatchObject({ name: 'KMSInternalException', status: 500 });
      expect(await failure(client.send(new CreateKeyCommand({})))).toMatchObject({ name: 'KMSInternalException' });
      expect(await failure(client.send(new GenerateRandomCommand({ NumberOfBytes: 16 })))).toMatchObject({ name: 'KMSInternalException' });
    } finally {
      await full.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
