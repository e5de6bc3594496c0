// The encryption context against kms-api.md 5.2 and 8.4: values are literal strings (a JSON number is its string
// form), an empty map is no context, keys and values are case-sensitive, Unicode and order-free; grant constraints
// (EncryptionContextEquals / EncryptionContextSubset, one per grant) hold on every operation that takes a context,
// their keys matched without case (AWS's GrantConstraints documentation).
// A real server on loopback driven by the AWS SDK; numbers go as raw signed JSON, which the SDK cannot send.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateGrantCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand, GenerateDataKeyWithoutPlaintextCommand, ListGrantsCommand, ReEncryptCommand,
  type GrantConstraints, type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, type RawResponse } from '../hardening/raw-client.js';
import type { TestServer } from '../support/server.js';
import {
  accountAdmin, allow, arnOf, credentialsOf, failure, keyPolicy, startAccessServer, type IdentityName,
} from '../access/support.js';

let server: TestServer;
let as: (name: IdentityName) => KMSClient;
beforeAll(async () => {
  ({ server, as } = await startAccessServer());
});
afterAll(async () => {
  await server?.remove();
});

const root = (): KMSClient => as('root');
const bob = arnOf('bob');
const PLAINTEXT = Buffer.from('attack at dawn');

async function newKey(policy?: string): Promise<string> {
  return (await root().send(new CreateKeyCommand(policy === undefined ? {} : { Policy: policy }))).KeyMetadata!.KeyId!;
}

/** A signed raw JSON request, as root or another identity: the only way to send a number where the SDK types a string. */
const raw = (operation: string, body: string, identity: IdentityName = 'root'): Promise<RawResponse> =>
  post(identity === 'root' ? server : { ...server, credentials: credentialsOf(identity) }, operation, body);

async function rawOk(operation: string, body: string, identity: IdentityName = 'root'): Promise<Record<string, unknown>> {
  const response = await raw(operation, body, identity);
  expect(response.json, response.text).toBeDefined();
  expect(response.status, response.text).toBe(200);
  return response.json!;
}

const blob = (base64: unknown): Buffer => Buffer.from(base64 as string, 'base64');

const decrypt = async (ciphertext: Uint8Array, context?: Record<string, string>, client = root()): Promise<Buffer> =>
  Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: context }))).Plaintext!);

/** The audit record of the request with this id, as the log on disk holds it. */
function auditRecordOf(requestId: string): { requestParameters: Record<string, unknown> } {
  const lines = readFileSync(join(server.dataDir, 'audit.jsonl'), 'utf8').split('\n').filter((line) => line !== '');
  const records = lines.map((line) => JSON.parse(line) as { requestID: string; requestParameters: Record<string, unknown> });
  const matching = records.filter((record) => record.requestID === requestId);
  expect(matching).toHaveLength(1);
  return matching[0]!;
}

describe('a JSON number as an encryption context value is its string form', () => {
  it('Encrypt with {"n":5} decrypts with {"n":"5"}, and the other way round; another number does not', async () => {
    const keyId = await newKey();
    const sealed = await rawOk('Encrypt', `{"KeyId":"${keyId}","Plaintext":"${PLAINTEXT.toString('base64')}","EncryptionContext":{"n":5,"r":2.5,"s":"x"}}`);
    expect(await decrypt(blob(sealed.CiphertextBlob), { n: '5', r: '2.5', s: 'x' })).toEqual(PLAINTEXT);

    const { CiphertextBlob } = await root().send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext: { n: '5', neg: '-3' } }));
    const base64 = Buffer.from(CiphertextBlob!).toString('base64');
    const opened = await rawOk('Decrypt', `{"CiphertextBlob":"${base64}","EncryptionContext":{"neg":-3,"n":5}}`);
    expect(blob(opened.Plaintext)).toEqual(PLAINTEXT);
    const wrong = await raw('Decrypt', `{"CiphertextBlob":"${base64}","EncryptionContext":{"neg":-3,"n":6}}`);
    expect(wrong.json).toMatchObject({ __type: 'InvalidCiphertextException' });
  });

  it('holds for GenerateDataKey*, GenerateDataKeyPair* and both sides of ReEncrypt', async () => {
    const keyId = await newKey();
    const other = await newKey();
    const dataKey = await rawOk('GenerateDataKey', `{"KeyId":"${keyId}","KeySpec":"AES_256","EncryptionContext":{"n":1}}`);
    expect(await decrypt(blob(dataKey.CiphertextBlob), { n: '1' })).toEqual(blob(dataKey.Plaintext));
    const sealedKey = await rawOk('GenerateDataKeyWithoutPlaintext', `{"KeyId":"${keyId}","NumberOfBytes":16,"EncryptionContext":{"n":2}}`);
    expect(await decrypt(blob(sealedKey.CiphertextBlob), { n: '2' })).toHaveLength(16);
    const pair = await rawOk('GenerateDataKeyPair', `{"KeyId":"${keyId}","KeyPairSpec":"ECC_NIST_P256","EncryptionContext":{"n":3}}`);
    expect(await decrypt(blob(pair.PrivateKeyCiphertextBlob), { n: '3' })).toEqual(blob(pair.PrivateKeyPlaintext));
    const sealedPair = await rawOk('GenerateDataKeyPairWithoutPlaintext', `{"KeyId":"${keyId}","KeyPairSpec":"ECC_NIST_P256","EncryptionContext":{"n":4}}`);
    expect((await decrypt(blob(sealedPair.PrivateKeyCiphertextBlob), { n: '4' })).length).toBeGreaterThan(0);

    const { CiphertextBlob } = await root().send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext: { from: '10' } }));
    const moved = await rawOk('ReEncrypt', JSON.stringify({ CiphertextBlob: Buffer.from(CiphertextBlob!).toString('base64'), DestinationKeyId: other })
      .replace(/}$/, ',"SourceEncryptionContext":{"from":10},"DestinationEncryptionContext":{"to":20}}'));
    expect(await decrypt(blob(moved.CiphertextBlob), { to: '20' })).toEqual(PLAINTEXT);
  });

  it('the audit record and the key policy see the string: kms:EncryptionContext:n = "5" admits {"n":5}', async () => {
    const keyId = await newKey(keyPolicy(accountAdmin,
      allow(bob, 'kms:Encrypt', { Condition: { StringEquals: { 'kms:EncryptionContext:n': '5' } } })));
    const body = (n: string) => `{"KeyId":"${keyId}","Plaintext":"${PLAINTEXT.toString('base64')}","EncryptionContext":{"n":${n}}}`;
    const admitted = await raw('Encrypt', body('5'), 'bob');
    expect(admitted.status, admitted.text).toBe(200);
    expect(auditRecordOf(admitted.headers['x-amzn-requestid'] as string).requestParameters.encryptionContext).toEqual({ n: '5' });
    expect((await raw('Encrypt', body('6'), 'bob')).json).toMatchObject({ __type: 'AccessDeniedException' });
  });

  it('grant constraints take numbers too, and hold them as strings', async () => {
    const keyId = await newKey();
    const created = await rawOk('CreateGrant',
      `{"KeyId":"${keyId}","GranteePrincipal":"${bob}","Operations":["Decrypt"],"Constraints":{"EncryptionContextEquals":{"n":5}}}`);
    const { Grants } = await root().send(new ListGrantsCommand({ KeyId: keyId }));
    expect(Grants!.find((grant) => grant.GrantId === created.GrantId)?.Constraints).toEqual({ EncryptionContextEquals: { n: '5' } });
    const { CiphertextBlob } = await root().send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext: { n: '5' } }));
    expect(await decrypt(CiphertextBlob!, { n: '5' }, as('bob'))).toEqual(PLAINTEXT);
  });

  it('other JSON values stay a SerializationException, and no other string member takes a number', async () => {
    const keyId = await newKey();
    const encrypt = (context: string) =>
      raw('Encrypt', `{"KeyId":"${keyId}","Plaintext":"${PLAINTEXT.toString('base64')}","EncryptionContext":${context}}`);
    // Past 2^53 (or a double's range) JSON.parse has already lost the digits sent: no faithful string form.
    for (const context of ['{"a":true}', '{"a":null}', '{"a":{}}', '{"a":["x"]}', '{"a":12345678901234567890}', '{"a":1e400}', '[]', '5']) {
      const refused = await encrypt(context);
      expect({ context, status: refused.status, type: refused.json?.__type }).toEqual({ context, status: 400, type: 'SerializationException' });
      expect(refused.text).not.toContain('12345678901234567890');
    }
    for (const [operation, body] of [
      ['Encrypt', `{"KeyId":5,"Plaintext":"${PLAINTEXT.toString('base64')}"}`],
      ['CreateKey', '{"Tags":[{"TagKey":"a","TagValue":5}]}'],
      ['CreateKey', '{"Description":5}'],
    ] as const) {
      expect((await raw(operation, body)).json).toMatchObject({ __type: 'SerializationException' });
    }
  });
});

describe('binding the encryption context', () => {
  it('an empty map is no context, on either side', async () => {
    const keyId = await newKey();
    const withEmpty = await root().send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext: {} }));
    expect(await decrypt(withEmpty.CiphertextBlob!)).toEqual(PLAINTEXT);
    const withNone = await root().send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }));
    expect(await decrypt(withNone.CiphertextBlob!, {})).toEqual(PLAINTEXT);
    const dataKey = await root().send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_128', EncryptionContext: {} }));
    expect(await decrypt(dataKey.CiphertextBlob!)).toEqual(Buffer.from(dataKey.Plaintext!));
    const moved = await root().send(new ReEncryptCommand({
      CiphertextBlob: withNone.CiphertextBlob, SourceEncryptionContext: {}, DestinationKeyId: keyId, DestinationEncryptionContext: {},
    }));
    expect(await decrypt(moved.CiphertextBlob!)).toEqual(PLAINTEXT);
    // An empty map with an RSA key is no context either, so it is not refused as one.
    const rsa = (await root().send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.KeyId!;
    await root().send(new EncryptCommand({ KeyId: rsa, Plaintext: PLAINTEXT, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: {} }));
  });

  it('needs every pair, exactly and case-sensitively, in any order; Unicode as sent, never normalized', async () => {
    const keyId = await newKey();
    const context = { Tenant: 'Green', '名前': '値 ✓', emoji: '😀', 'café': 'crème' };
    const { CiphertextBlob } = await root().send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext: context }));
    const reordered = Object.fromEntries(Object.entries(context).reverse());
    expect(await decrypt(CiphertextBlob!, reordered)).toEqual(PLAINTEXT);
    const mismatches: Record<string, string>[] = [
      {}, { Tenant: 'Green' },
      { ...context, extra: 'x' },
      { ...Object.fromEntries(Object.entries(context).filter(([name]) => name !== 'Tenant')), tenant: 'Green' },
      { ...context, Tenant: 'green' },
      // The same text in Unicode's decomposed form: other code points, so another context.
      { ...Object.fromEntries(Object.entries(context).filter(([name]) => name !== 'café')), ['café'.normalize('NFD')]: 'crème' },
    ];
    for (const other of mismatches) {
      expect(await failure(decrypt(CiphertextBlob!, other))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    }
  });
});

describe('grant encryption context constraints', () => {
  it('a grant takes EncryptionContextEquals or EncryptionContextSubset, not both', async () => {
    const keyId = await newKey();
    const both: GrantConstraints[] = [
      { EncryptionContextEquals: { a: '1' }, EncryptionContextSubset: { a: '1' } },
      { EncryptionContextEquals: { a: '1' }, EncryptionContextSubset: {} },
    ];
    for (const Constraints of both) {
      expect(await failure(root().send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: bob, Operations: ['Decrypt'], Constraints }))))
        .toMatchObject({ name: 'ValidationException', message: 'More than one constraint supplied', status: 400 });
    }
    expect((await root().send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
  });

  it('EncryptionContextEquals admits exactly its context (any order), on every operation that takes one', async () => {
    const keyId = await newKey();
    const context = { tenant: 'a', stage: 'prod' };
    await root().send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: bob,
      Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
        'GenerateDataKeyPairWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo'],
      Constraints: { EncryptionContextEquals: context },
    }));
    const client = as('bob');
    const calls = (EncryptionContext: Record<string, string> | undefined, CiphertextBlob: Uint8Array) => [
      client.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext })),
      client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext })),
      client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext })),
      client.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, NumberOfBytes: 8, EncryptionContext })),
      client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext })),
      client.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext })),
      client.send(new ReEncryptCommand({
        CiphertextBlob, SourceEncryptionContext: EncryptionContext, DestinationKeyId: keyId, DestinationEncryptionContext: EncryptionContext,
      })),
    ];
    const sealedUnder = async (EncryptionContext?: Record<string, string>) =>
      (await root().send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext }))).CiphertextBlob!;

    await Promise.all(calls({ stage: 'prod', tenant: 'a' }, await sealedUnder(context)));
    // A constraint's keys match without case (AWS's GrantConstraints documentation), its values exactly.
    await Promise.all(calls({ Stage: 'prod', TENANT: 'a' }, await sealedUnder({ Stage: 'prod', TENANT: 'a' })));
    for (const other of [undefined, { tenant: 'a' }, { ...context, extra: 'x' }, { ...context, stage: 'Prod' }]) {
      const outcomes = await Promise.all(calls(other, await sealedUnder(other)).map((call) => failure(call)));
      expect(outcomes.map((refusal) => refusal.name)).toEqual(Array(7).fill('AccessDeniedException'));
    }
  });

  it('EncryptionContextSubset admits any context holding its pairs', async () => {
    const keyId = await newKey();
    await root().send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: bob, Operations: ['Decrypt', 'GenerateDataKey'], Constraints: { EncryptionContextSubset: { tenant: 'a' } },
    }));
    const client = as('bob');
    const admitted = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 16, EncryptionContext: { tenant: 'a', stage: 'prod' } }));
    expect(await decrypt(admitted.CiphertextBlob!, { stage: 'prod', tenant: 'a' }, client)).toEqual(Buffer.from(admitted.Plaintext!));
    await client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 16, EncryptionContext: { Tenant: 'a' } }));
    const others: (Record<string, string> | undefined)[] = [undefined, { stage: 'prod' }, { tenant: 'A' }];
    for (const other of others) {
      expect(await failure(client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 16, EncryptionContext: other }))))
        .toMatchObject({ name: 'AccessDeniedException' });
    }
  });
});
