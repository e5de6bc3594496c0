// boto3 unchanged against the server (interface.md promises it works): boto3-client.py, run by Debian's
// /usr/bin/python3 with python3-boto3 (installed by pretest; `python3` on PATH may be a pyenv shim without it),
// drives a realistic flow once and prints what botocore parsed as JSON; the tests below assert on it, and check
// what can be checked outside KMS (signatures, public keys, data key pairs) with node:crypto.
import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBotoScript } from '../support/boto3.js';
import { startServer, type TestServer } from '../support/server.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'boto3-client.py');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Non-ASCII keys and values, one outside the BMP: botocore escapes them, the JS SDK sends them as UTF-8.
const UNICODE_CONTEXT = { 'région': 'zürich', tenant: 'ключ 🔑' };

interface BotoError { code: string; message: string; status: number; exception_class: string }
interface BotoTimestamp { type: string; aware: boolean; epoch: number }

let server: TestServer;
let jsKeyArn: string;
// The script's JSON output; its shape is boto3-client.py's `results`.
let boto: Record<string, any>;

const arnOf = (keyId: string) => `arn:aws:kms:us-east-1:${server.accountId}:key/${keyId}`;
const bytes = (base64: string) => Buffer.from(base64, 'base64');
const expectTimestamp = (value: BotoTimestamp, near: number, toleranceSeconds = 60) => {
  expect(value.type).toBe('datetime');
  expect(value.aware).toBe(true);
  expect(Math.abs(value.epoch - near)).toBeLessThan(toleranceSeconds);
};

beforeAll(async () => {
  server = await startServer();
  const kms = server.client();
  jsKeyArn = (await kms.send(new CreateKeyCommand({ Description: 'js sdk side' }))).KeyMetadata!.Arn!;
  const jsCiphertext = (await kms.send(new EncryptCommand({
    KeyId: jsKeyArn, Plaintext: Buffer.from('from the js sdk'), EncryptionContext: UNICODE_CONTEXT,
  }))).CiphertextBlob!;
  boto = await runBotoScript(server, SCRIPT, {
    env: { JS_CIPHERTEXT: Buffer.from(jsCiphertext).toString('base64'), UNICODE_CONTEXT: JSON.stringify(UNICODE_CONTEXT) },
  });
});
afterAll(async () => {
  await server?.remove();
});

describe('boto3: keys and envelope encryption', () => {
  it('creates a symmetric key and parses its metadata, CreationDate a timezone-aware datetime equal to the JS SDK\'s', async () => {
    const created = boto.create_key;
    expect(created.KeyId).toMatch(UUID);
    expect(created).toMatchObject({
      Arn: arnOf(created.KeyId), KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyState: 'Enabled',
      Enabled: true, Description: 'boto3 symmetric', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expectTimestamp(created.CreationDate, boto.now);
    expect(created.CreationDate.epoch).toBeLessThanOrEqual(boto.now);
    expect(boto.describe_key).toEqual({ KeyId: created.KeyId, Arn: created.Arn, CreationDate: created.CreationDate });
    const viaJs = (await server.client().send(new DescribeKeyCommand({ KeyId: created.KeyId }))).KeyMetadata!;
    expect(Math.round(created.CreationDate.epoch * 1000)).toBe(viaJs.CreationDate!.getTime());
  });

  it('answers with a request id and the JSON 1.1 content type in the response metadata', () => {
    expect(boto.response_metadata).toEqual({
      RequestId: expect.stringMatching(/^[0-9a-f-]{36}$/), HTTPStatusCode: 200,
      content_type: 'application/x-amz-json-1.1', RetryAttempts: 0,
    });
  });

  it('encrypts and decrypts with an encryption context; the JS SDK opens boto3\'s ciphertext too', async () => {
    const keyArn = boto.create_key.Arn;
    expect(boto.encrypt).toMatchObject({ KeyId: keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(boto.decrypt).toEqual({ KeyId: keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', plaintext_matches: true });
    const opened = await server.client().send(new DecryptCommand({
      CiphertextBlob: bytes(boto.encrypt.CiphertextBlob), EncryptionContext: { app: 'boto3', purpose: 'conformance' },
    }));
    expect(Buffer.from(opened.Plaintext!).equals(Buffer.from('boto3 secret \x00\xff', 'latin1'))).toBe(true);
    expect(opened.KeyId).toBe(keyArn);
  });

  it('authenticates a non-ASCII encryption context the same whether botocore or the JS SDK sent it', async () => {
    expect(boto.cross_client).toMatchObject({ js_plaintext: 'from the js sdk', js_KeyId: jsKeyArn });
    const opened = await server.client().send(new DecryptCommand({
      CiphertextBlob: bytes(boto.cross_client.boto3_ciphertext), EncryptionContext: UNICODE_CONTEXT,
    }));
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('from boto3');
    expect(opened.KeyId).toBe(boto.create_key.Arn);
  });

  it('generates a data key whose ciphertext decrypts to its plaintext', () => {
    expect(boto.generate_data_key).toEqual({ KeyId: boto.create_key.Arn, plaintext_length: 32, decrypts_to_plaintext: true });
  });

  it('re-encrypts under another key and context; the old context no longer opens it', () => {
    const target = boto.re_encrypt.second_key_arn;
    expect(target).not.toBe(boto.create_key.Arn);
    expect(boto.re_encrypt).toEqual({
      SourceKeyId: boto.create_key.Arn, KeyId: target, second_key_arn: target,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      decrypted_key_id: target, plaintext_matches: true, old_context_rejected: 'InvalidCiphertextException',
    });
  });

  it('uses an alias name and an alias ARN in place of the key id', () => {
    expect(boto.alias).toEqual({
      AliasName: expect.stringMatching(/^alias\/boto3-[0-9a-f]{8}$/), encrypt_KeyId: boto.create_key.Arn,
      describe_KeyId: boto.create_key.KeyId, decrypted: 'via alias', describe_by_alias_arn_KeyId: boto.create_key.KeyId,
    });
  });

  it('generates random bytes, a data key pair that matches, and turns rotation on', () => {
    expect(boto.random_length).toBe(48);
    expect(boto.rotation_enabled).toBe(true);
    const pair = boto.data_key_pair;
    expect(pair).toMatchObject({ KeyId: boto.create_key.Arn, KeyPairSpec: 'ECC_NIST_P256', private_key_ciphertext_decrypts: true });
    const publicKey = createPublicKey({ key: bytes(pair.PublicKey), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const privateKey = createPrivateKey({ key: bytes(pair.PrivateKeyPlaintext), format: 'der', type: 'pkcs8' });
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(bytes(pair.PublicKey))).toBe(true);
  });
});

describe('boto3: paginators', () => {
  it('pages list_keys two at a time across every key, each once', () => {
    const listed = boto.list_keys;
    const expected = [...listed.expected_key_ids, jsKeyArn.split('/')[1]];
    expect(listed.page_sizes).toEqual([2, 2, 2]);
    expect(listed.truncated_flags).toEqual([true, true, false]);
    expect([...listed.key_ids].sort()).toEqual([...expected].sort());
    expect(listed.key_arns).toEqual(listed.key_ids.map(arnOf));
  });

  it('resumes list_keys from botocore\'s own NextToken after MaxItems stopped mid-page', () => {
    const resumed = boto.list_keys_resumed;
    expect(resumed.first_key_ids).toHaveLength(3);
    expect(resumed.rest_has_next_token).toBe(false);
    // The keys created after the first listing (signing and MAC keys...) come too; none is repeated or skipped.
    const all = [...resumed.first_key_ids, ...resumed.rest_key_ids];
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual(expect.arrayContaining(boto.list_keys.key_ids));
  });

  it('pages list_aliases for one key and for the account', () => {
    const forKey = boto.list_aliases_for_key;
    expect(forKey.page_sizes).toEqual([2, 2, 1]);
    expect(forKey.truncated_flags).toEqual([true, true, false]);
    expect([...forKey.alias_names].sort()).toEqual([...forKey.expected_alias_names].sort());
    expect(forKey.target_key_ids).toEqual([boto.list_keys.expected_key_ids[2]]);
    const all = boto.list_aliases_all;
    expect(all.page_count).toBe(3);
    expect([...all.alias_names].sort()).toEqual([boto.alias.AliasName, ...forKey.expected_alias_names].sort());
    expect(all.creation_dates).toHaveLength(6);
    for (const date of all.creation_dates) expectTimestamp(date, boto.now);
  });

  it('pages list_grants, list_resource_tags and list_key_policies, and returns the default key policy', () => {
    const grants = boto.grants;
    expect(grants.page_sizes).toEqual([2, 1]);
    expect([...grants.listed].sort()).toEqual([...grants.created].sort());
    expect(grants.operations).toEqual(Array(3).fill(['Decrypt', 'Encrypt']));
    expect(grants.constraints).toEqual(Array(3).fill({ EncryptionContextSubset: { app: 'boto3' } }));
    for (const date of grants.creation_dates) expectTimestamp(date, boto.now);
    expect(boto.tags.page_sizes).toEqual([2, 2, 1]);
    expect(boto.tags.tags).toEqual(expect.arrayContaining([
      { TagKey: 'client', TagValue: 'boto3' }, ...[0, 1, 2, 3].map((i) => ({ TagKey: `tag-${i}`, TagValue: `value-${i}` })),
    ]));
    expect(boto.key_policy.policy_names).toEqual(['default']);
    expect(boto.key_policy.policy.Statement).toContainEqual(expect.objectContaining({
      Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${server.accountId}:root` }, Action: 'kms:*',
    }));
  });
});

describe('boto3: signing and MACs', () => {
  it('signs with an ECC_NIST_P256 key; node:crypto verifies the signature against GetPublicKey\'s DER', async () => {
    const signing = boto.sign_verify;
    expect(signing).toMatchObject({
      create_KeySpec: 'ECC_NIST_P256', create_KeyUsage: 'SIGN_VERIFY', create_SigningAlgorithms: ['ECDSA_SHA_256'],
      sign_KeyId: signing.key_arn, SigningAlgorithm: 'ECDSA_SHA_256', verify_KeyId: signing.key_arn, SignatureValid: true,
      public_KeySpec: 'ECC_NIST_P256', public_KeyUsage: 'SIGN_VERIFY', public_SigningAlgorithms: ['ECDSA_SHA_256'],
    });
    const publicKey = createPublicKey({ key: bytes(signing.PublicKey), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyType).toBe('ec');
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const message = bytes(signing.message);
    const signature = bytes(signing.Signature);
    expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
    expect(verify('sha256', Buffer.concat([message, Buffer.from('!')]), { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(false);
    const viaJs = await server.client().send(new GetPublicKeyCommand({ KeyId: signing.key_arn }));
    expect(Buffer.from(viaJs.PublicKey!).equals(bytes(signing.PublicKey))).toBe(true);
    expect(signing.tampered_message).toEqual({
      code: 'KMSInvalidSignatureException', message: expect.any(String), status: 400,
      exception_class: 'KMSInvalidSignatureException',
    });
  });

  it('generates and verifies an HMAC; a wrong MAC raises KMSInvalidMacException', () => {
    const mac = boto.mac;
    expect(mac).toMatchObject({
      MacAlgorithms: ['HMAC_SHA_256'], generate_KeyId: mac.key_arn, MacAlgorithm: 'HMAC_SHA_256', mac_length: 32,
      verify_KeyId: mac.key_arn, MacValid: true,
    });
    expect(mac.wrong_mac).toEqual({
      code: 'KMSInvalidMacException', message: expect.any(String), status: 400, exception_class: 'KMSInvalidMacException',
    });
  });
});

describe('boto3: errors', () => {
  const error = (name: string) => boto.errors[name] as BotoError;

  it('raises modeled errors as their botocore exception classes with AWS\'s HTTP statuses', () => {
    expect(error('missing_key')).toMatchObject({ code: 'NotFoundException', status: 404, exception_class: 'NotFoundException' });
    expect(error('missing_key').message).toMatch(/^Key 'arn:aws:kms:us-east-1:\d{12}:key\/[0-9a-f-]{36}' does not exist$/);
    expect(error('missing_alias')).toMatchObject({ code: 'NotFoundException', status: 404, exception_class: 'NotFoundException' });
    expect(error('missing_alias').message).toMatch(/^Alias 'arn:aws:kms:us-east-1:\d{12}:alias\/boto3-[0-9a-f]{8}-missing' is not found\.$/);
    expect(boto.modeled_exception_class).toBe('NotFoundException');
    expect(boto.disabled_state).toBe('Disabled');
    expect(error('disabled_key')).toMatchObject({ code: 'DisabledException', status: 409, exception_class: 'DisabledException' });
    expect(error('disabled_key').message).toContain(boto.re_encrypt.second_key_arn);
    for (const name of ['tampered_ciphertext', 'wrong_context']) {
      expect(error(name)).toEqual({
        code: 'InvalidCiphertextException', message: expect.stringMatching(/.+/), status: 400,
        exception_class: 'InvalidCiphertextException',
      });
    }
    expect(error('duplicate_alias')).toMatchObject({ code: 'AlreadyExistsException', status: 409, exception_class: 'AlreadyExistsException' });
    expect(error('sign_with_symmetric_key')).toMatchObject({
      code: 'InvalidKeyUsageException', status: 400, exception_class: 'InvalidKeyUsageException',
    });
  });

  it('raises ValidationException (unmodeled, so a plain ClientError) with status 400 for bad input', () => {
    expect(error('too_many_bytes')).toEqual({
      code: 'ValidationException', status: 400, exception_class: 'ClientError',
      message: "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    });
    expect(error('spec_and_bytes')).toMatchObject({ code: 'ValidationException', status: 400, exception_class: 'ClientError' });
  });

  it('refuses a request signed with a wrong secret or an unknown access key, as AWS does', () => {
    expect(error('wrong_secret')).toMatchObject({ code: 'InvalidSignatureException', status: 400, exception_class: 'ClientError' });
    expect(error('wrong_secret').message).toMatch(/^The request signature we calculated does not match/);
    expect(error('unknown_access_key')).toEqual({
      code: 'UnrecognizedClientException', status: 400, exception_class: 'ClientError',
      message: 'The security token included in the request is invalid.',
    });
  });
});

describe('boto3: key deletion', () => {
  it('schedules deletion; DeletionDate parses as a datetime seven days out, the same in describe_key', () => {
    const scheduled = boto.schedule_key_deletion;
    expect(scheduled).toMatchObject({ KeyState: 'PendingDeletion', PendingWindowInDays: 7, described_KeyState: 'PendingDeletion' });
    expectTimestamp(scheduled.DeletionDate, boto.now + 7 * 24 * 3600);
    expect(scheduled.described_DeletionDate).toEqual(scheduled.DeletionDate);
  });
});
