// Key policy documents as KMS accepts or refuses them on the wire (CreateKey, PutKeyPolicy, GetKeyPolicy), and
// identity policies as a KMS_IDENTITIES file may hold them. policies.test.ts covers the common malformed cases
// and the lockout check; this file the principal forms and document rules beyond those.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, GetKeyPolicyCommand, type KMSClient, PutKeyPolicyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ACCOUNT, accountAdmin, allow, arnOf, createKeyAs, failure, keyPolicy, withAccessServer, type AccessServer } from './support.js';

let access: AccessServer;
let root: KMSClient;

withAccessServer((server) => { access = server; root = server.as('root'); });

const put = (KeyId: string, Policy: string) => root.send(new PutKeyPolicyCommand({ KeyId, PolicyName: 'default', Policy }));
const policyOf = async (KeyId: string) => (await root.send(new GetKeyPolicyCommand({ KeyId }))).Policy;

describe('document text', () => {
  it('is kept byte for byte (whitespace, a single Statement object, Latin-1), also on a key pending deletion', async () => {
    const { keyId } = await createKeyAs(root);
    const text = `\t{ "Version":"2012-10-17",\r\n  "Statement" : ${JSON.stringify({ ...accountAdmin, Sid: 'Zugriff für Administratoren' })} }\n\n`;
    await put(keyId, text);
    expect(await policyOf(keyId)).toBe(text);
    await root.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    const next = keyPolicy({ ...accountAdmin, Sid: 'pending' });
    await put(keyId, next);
    expect(await policyOf(keyId)).toBe(next);
  });

  it('refuses characters past U+00FF and names other than "default", as the model and KMS do', async () => {
    const { keyId } = await createKeyAs(root);
    expect(await failure(put(keyId, keyPolicy({ ...accountAdmin, Sid: 'Euro €' })))).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(await failure(root.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'de-fault' })))).toMatchObject({ name: 'ValidationException' });
    expect(await failure(root.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'other' })))).toMatchObject({ name: 'NotFoundException', status: 404 });
    expect(await failure(root.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'other', Policy: keyPolicy(accountAdmin) }))))
      .toMatchObject({ name: 'NotFoundException', status: 404 });
    expect(JSON.parse((await policyOf(keyId))!).Id).toBe('key-default-1');
  });
});

describe('principals', () => {
  it('a federated user session (sts federated-user ARN) is a valid principal, as in any resource policy', async () => {
    const { keyId } = await createKeyAs(root);
    const federated = keyPolicy(accountAdmin, allow(`arn:aws:sts::${ACCOUNT}:federated-user/Bob`, 'kms:Decrypt'));
    await put(keyId, federated);
    expect(await policyOf(keyId)).toBe(federated);
    const created = await createKeyAs(root, { Policy: federated });
    expect(await policyOf(created.keyId)).toBe(federated);
    // Still a principal ARN: a malformed federated-user name is refused like any invalid principal.
    expect(await failure(put(keyId, keyPolicy(accountAdmin, allow(`arn:aws:sts::${ACCOUNT}:federated-user/`, 'kms:Decrypt')))))
      .toMatchObject({ name: 'MalformedPolicyDocumentException', message: 'Policy contains a statement with one or more invalid principals.' });
  });
});

describe('statement ids', () => {
  const duplicate = {
    name: 'MalformedPolicyDocumentException', status: 400, message: 'Statement IDs (SID) in a single policy must be unique.',
  };

  it('two statements with one Sid are refused by PutKeyPolicy and CreateKey; distinct or absent Sids pass', async () => {
    const { keyId } = await createKeyAs(root);
    const twice = keyPolicy(accountAdmin, { ...allow(arnOf('bob'), 'kms:Encrypt'), Sid: accountAdmin.Sid });
    expect(await failure(put(keyId, twice))).toEqual(duplicate);
    expect(await failure(root.send(new CreateKeyCommand({ Policy: twice })))).toEqual(duplicate);
    expect(JSON.parse((await policyOf(keyId))!).Id).toBe('key-default-1');
    // Key policy Sids may hold spaces; statements without a Sid never clash.
    const distinct = keyPolicy(accountAdmin, { ...allow(arnOf('bob'), 'kms:Encrypt'), Sid: 'Allow use of the key' },
      allow(arnOf('bob'), 'kms:Decrypt'), allow(arnOf('bob'), 'kms:DescribeKey'));
    await put(keyId, distinct);
    expect(await policyOf(keyId)).toBe(distinct);
  });

  it('a KMS_IDENTITIES policy with two statements of one Sid stops the server at start, naming the variable', () => {
    const statement = { Sid: 'UseKeys', Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' };
    const { file, stderr } = startWithIdentityPolicy({ Version: '2012-10-17', Statement: [statement, { ...statement, Action: 'kms:Decrypt' }] });
    expect(stderr).toEqual([`kms-engine: KMS_IDENTITIES: ${file}: identities[0].policies[0]: ${duplicate.message}`]);
  });

  it('an IAM policy Sid holds letters and digits only (a key policy Sid may hold spaces): others stop the server at start', () => {
    const { file, stderr } = startWithIdentityPolicy({ Version: '2012-10-17', Statement: [{ Sid: 'Use keys', Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }] });
    expect(stderr).toEqual([`kms-engine: KMS_IDENTITIES: ${file}: identities[0].policies[0]: `
      + 'Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*']);
  });
});

describe('lockout safety check', () => {
  const lockout = { name: 'MalformedPolicyDocumentException', message: 'The new key policy will not allow you to update the key policy in the future.' };
  const rootAdmin = (extra: object) => ({ ...accountAdmin, ...extra });
  const onlyFrom = (range: string) => ({ Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*',
    Condition: { NotIpAddress: { 'aws:SourceIp': range } } });

  it('imagines the next PutKeyPolicy from where the caller calls now (aws:SourceIp)', async () => {
    const { keyId } = await createKeyAs(root);
    // The test client calls from loopback: a policy keeping loopback in passes, one shutting it out does not.
    const loopbackOnly = keyPolicy(accountAdmin, onlyFrom('127.0.0.0/8'));
    await put(keyId, loopbackOnly);
    expect(await policyOf(keyId)).toBe(loopbackOnly);
    await createKeyAs(root, { Policy: loopbackOnly });
    expect(await failure(put(keyId, keyPolicy(accountAdmin, onlyFrom('10.0.0.0/8'))))).toMatchObject(lockout);
    expect(await failure(root.send(new CreateKeyCommand({ Policy: keyPolicy(accountAdmin, onlyFrom('10.0.0.0/8')) })))).toMatchObject(lockout);
  });

  it('on the key the policy is for: its tags and properties (for CreateKey, the ones the request asks for)', async () => {
    const forTeam = (team: string) => keyPolicy(rootAdmin({ Condition: { StringEquals: { 'aws:ResourceTag/team': team, 'kms:KeySpec': 'HMAC_256' } } }));
    const Tags = [{ TagKey: 'team', TagValue: 'blue' }];
    const { keyId } = await createKeyAs(root, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Tags, Policy: forTeam('blue') });
    expect(await policyOf(keyId)).toBe(forTeam('blue'));
    await put(keyId, forTeam('blue'));
    expect(await failure(put(keyId, forTeam('green')))).toMatchObject(lockout);
    expect(await failure(root.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Tags, Policy: forTeam('green') }))))
      .toMatchObject(lockout);
    expect(await failure(root.send(new CreateKeyCommand({ Tags, Policy: forTeam('blue') })))).toMatchObject(lockout);
  });
});

describe('identity policies', () => {
  it('a KMS_IDENTITIES statement without Resource (inert in a key policy) stops the server at start, as IAM refuses it', () => {
    const { file, stderr } = startWithIdentityPolicy({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Encrypt' }] });
    expect(stderr).toEqual([`kms-engine: KMS_IDENTITIES: ${file}: identities[0].policies[0]: Policy statement must contain resources.`]);
  });
});

/** Starts the server with one identity holding `policy`; expects the start to fail and returns what it printed. */
function startWithIdentityPolicy(policy: object): { file: string; stderr: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'kms-engine-identity-policy-'));
  try {
    const file = join(dir, 'identities.json');
    writeFileSync(file, JSON.stringify({ identities: [{
      accessKeyId: 'AKIAIDENTITYPOLICY01', secretAccessKey: 'secret-of-identity-policy', arn: `arn:aws:iam::${ACCOUNT}:user/someone`,
      policies: [policy],
    }] }));
    const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'kms-engine.js'), 'serve'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', KMS_DATA_DIR: dir, KMS_IDENTITIES: file }, encoding: 'utf8', timeout: 30_000,
    });
    expect(run.status).not.toBe(0);
    return { file, stderr: run.stderr.trim().split('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
