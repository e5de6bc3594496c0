// The AWS JSON 1.1 wire protocol and SigV4, byte for byte, with raw HTTP requests signed the way botocore signs
// them (no x-amz-content-sha256 header: the server hashes the body itself).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signKmsRequest } from '../../src/auth/sigv4.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let host: string;

beforeAll(async () => {
  server = await startServer({ env: { KMS_MAX_BODY_BYTES: '65536' } });
  host = new URL(server.url).host;
});
afterAll(async () => {
  await server?.remove();
});

interface Sent {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  text: string;
}

async function send(target: string, body: string | Uint8Array, tweak: (headers: Record<string, string>) => void = () => {},
  signing: { secret?: string; accessKeyId?: string; date?: Date } = {}): Promise<Sent> {
  const headers = signKmsRequest({
    host, target: `TrentService.${target}`, body,
    accessKeyId: signing.accessKeyId ?? server.credentials.accessKeyId,
    secretAccessKey: signing.secret ?? server.credentials.secretAccessKey, region: 'us-east-1', date: signing.date,
  });
  tweak(headers);
  const response = await fetch(server.url + '/', { method: 'POST', headers, body: body as string });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
  } catch { /* non-JSON bodies are asserted on text */ }
  return { status: response.status, headers: response.headers, json, text };
}

const call = (target: string, input: unknown) => send(target, JSON.stringify(input));

describe('successful answers', () => {
  it('carry x-amzn-RequestId, the JSON 1.1 content type, epoch-second numbers and base64 blobs', async () => {
    const created = await call('CreateKey', {});
    expect(created.status).toBe(200);
    expect(created.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(created.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const metadata = created.json.KeyMetadata as Record<string, unknown>;
    expect(typeof metadata.CreationDate).toBe('number');
    expect(metadata.CreationDate as number).toBeGreaterThan(1.7e9);
    const encrypted = await call('Encrypt', { KeyId: metadata.KeyId, Plaintext: Buffer.from('hi').toString('base64') });
    expect(encrypted.status).toBe(200);
    expect(encrypted.json.KeyId).toBe(metadata.Arn);
    expect(Buffer.from(encrypted.json.CiphertextBlob as string, 'base64').length).toBeGreaterThan(2);
    expect(Object.keys(encrypted.json).sort()).toEqual(['CiphertextBlob', 'EncryptionAlgorithm', 'KeyId']);
  });

  it('accepts an explicitly empty encryption context as none', async () => {
    const keyId = ((await call('CreateKey', {})).json.KeyMetadata as { KeyId: string }).KeyId;
    const encrypted = await call('Encrypt', { KeyId: keyId, Plaintext: 'aGk=', EncryptionContext: {} });
    const decrypted = await call('Decrypt', { CiphertextBlob: encrypted.json.CiphertextBlob });
    expect(decrypted.json.Plaintext).toBe('aGk=');
  });
});

describe('errors', () => {
  it('answer {"__type","message"} with the right status and a request id', async () => {
    const missing = await call('DescribeKey', { KeyId: '11111111-2222-4333-8444-555555555555' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({
      __type: 'NotFoundException',
      message: "Key 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555' does not exist",
    });
    expect(missing.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('UnknownOperationException for an unknown or missing target', async () => {
    const unknown = await call('NoSuchOperation', {});
    expect(unknown.json.__type).toBe('UnknownOperationException');
    expect(unknown.json.message).toMatch(/TrentService operation/);
    const noTarget = await send('Encrypt', '{}', (h) => { delete h['x-amz-target']; });
    expect(noTarget.status).toBe(400);
    expect(noTarget.json.__type).toBe('UnknownOperationException');
  });

  it('UnsupportedOperationException, with a reason, for model operations outside the engine', async () => {
    const answer = await call('CreateCustomKeyStore', { CustomKeyStoreName: 'x' });
    expect({ status: answer.status, type: answer.json.__type }).toEqual({ status: 400, type: 'UnsupportedOperationException' });
    expect(answer.json.message).toMatch(/Custom key stores/);
  });

  it('DescribeCustomKeyStores lists none, and any store asked for by id or name is not found', async () => {
    const all = await call('DescribeCustomKeyStores', {});
    expect(all.status).toBe(200);
    expect(all.json).toEqual({ CustomKeyStores: [], Truncated: false });
    for (const filter of [{ CustomKeyStoreId: 'cks-1234567890abcdef0' }, { CustomKeyStoreName: 'mine' }]) {
      const one = await call('DescribeCustomKeyStores', filter);
      expect({ status: one.status, type: one.json.__type }).toEqual({ status: 400, type: 'CustomKeyStoreNotFoundException' });
    }
  });

  it('other methods and paths get the same error shape, with a request id', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await fetch(server.url + '/', { method });
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.1');
      expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      const body = await response.json() as Record<string, unknown>;
      expect(body.__type).toBe('UnknownOperationException');
      expect(body.message).toMatch(/POST \//);
    }
  });

  it('SerializationException for bad JSON and wrong JSON types', async () => {
    expect((await send('ListKeys', '{not json')).json.__type).toBe('SerializationException');
    expect((await send('ListKeys', '[]')).json.__type).toBe('SerializationException');
    expect((await call('DescribeKey', { KeyId: 5 })).json.__type).toBe('SerializationException');
    expect((await call('Encrypt', { KeyId: 'alias/x', Plaintext: '***' })).json.__type).toBe('SerializationException');
    expect((await call('ListKeys', { Limit: 1.5 })).json.__type).toBe('SerializationException');
  });

  it('ValidationException for every model constraint, in AWS wording, never echoing values', async () => {
    const required = await call('Encrypt', { Plaintext: 'aGk=' });
    expect(required.status).toBe(400);
    expect(required.json).toEqual({
      __type: 'ValidationException',
      message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    });
    const range = await call('ListKeys', { Limit: 1001 });
    expect(range.json.message).toBe("1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000");
    const enumeration = await call('CreateKey', { KeySpec: 'SECRET_SPEC_VALUE' });
    expect(enumeration.json.__type).toBe('ValidationException');
    expect(enumeration.json.message).toContain('Member must satisfy enum value set');
    expect(enumeration.json.message).not.toContain('SECRET_SPEC_VALUE');
    const two = await call('CreateKey', { KeySpec: 'NOPE', KeyUsage: 'NOPE' });
    expect(two.json.message).toMatch(/^2 validation errors detected: /);
    const pattern = await call('CreateAlias', { AliasName: 'alias/has space', TargetKeyId: 'x' });
    expect(pattern.json.__type).toBe('ValidationException');
  });

  it('refuses bodies over the limit with a 4xx, and keeps serving', async () => {
    const huge = await send('Encrypt', JSON.stringify({ KeyId: 'alias/x', Plaintext: Buffer.alloc(70_000).toString('base64') }));
    expect(huge.status).toBe(413);
    expect(huge.json.__type).toBe('RequestEntityTooLargeException');
    expect((await call('ListKeys', {})).status).toBe(200);
  });
});

describe('SigV4', () => {
  it('MissingAuthenticationTokenException without Authorization', async () => {
    const unsigned = await send('ListKeys', '{}', (h) => { delete h.authorization; });
    expect(unsigned.status).toBe(400);
    expect(unsigned.json.__type).toBe('MissingAuthenticationTokenException');
  });

  it('UnrecognizedClientException for an unknown access key id', async () => {
    const unknown = await send('ListKeys', '{}', () => {}, { accessKeyId: 'AKIAUNKNOWNUNKNOWN00' });
    expect(unknown.json).toEqual({ __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
  });

  it('InvalidSignatureException for a wrong secret, a tampered body or a tampered target', async () => {
    expect((await send('ListKeys', '{}', () => {}, { secret: 'wrong-secret' })).json.__type).toBe('InvalidSignatureException');
    const headers = signKmsRequest({
      host, target: 'TrentService.ListKeys', body: '{}', accessKeyId: server.credentials.accessKeyId,
      secretAccessKey: server.credentials.secretAccessKey, region: 'us-east-1',
    });
    const tamperedBody = await fetch(server.url + '/', { method: 'POST', headers, body: '{"Limit":1}' });
    expect(((await tamperedBody.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
    const tamperedTarget = await fetch(server.url + '/', {
      method: 'POST', headers: { ...headers, 'x-amz-target': 'TrentService.GenerateRandom' }, body: '{}',
    });
    expect(((await tamperedTarget.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
  });

  it('InvalidSignatureException "Signature expired" for a date more than 5 minutes off', async () => {
    const stale = await send('ListKeys', '{}', () => {}, { date: new Date(Date.now() - 10 * 60_000) });
    expect(stale.json.__type).toBe('InvalidSignatureException');
    expect(stale.json.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
  });

  it('IncompleteSignatureException for a malformed Authorization header', async () => {
    const broken = await send('ListKeys', '{}', (h) => { h.authorization = 'AWS4-HMAC-SHA256 Credential=abc'; });
    expect(broken.json.__type).toBe('IncompleteSignatureException');
  });

  it('checks x-amz-content-sha256 when a client sends it', async () => {
    const mismatched = await send('ListKeys', '{}', (h) => { h['x-amz-content-sha256'] = '0'.repeat(64); });
    expect(mismatched.json.__type).toBe('InvalidSignatureException');
  });
});

describe('operational routes', () => {
  it('GET /healthz answers 200 and GET /metrics serves Prometheus text', async () => {
    expect((await fetch(server.url + '/healthz')).status).toBe(200);
    const metrics = await fetch(server.url + '/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('kms_request_duration_seconds');
  });
});
