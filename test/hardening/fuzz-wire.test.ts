// Mutated real requests: ciphertexts, signatures and MACs truncated and bit-flipped, JSON bodies corrupted byte by
// byte (and signed after corruption, so they get past SigV4), bad base64, deep and odd JSON, broken headers. Every
// answer is a 4xx in the AWS shape with the right error for the forgery, never a 5xx, and nothing is echoed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { createTargets, MARKER, residentBytes, sendChecked, Tally, type Targets } from './fuzz-support.js';
import { post, signedHeaders } from './raw-client.js';

// CI replays one known seed (a red CI must mean a regression); elsewhere each run explores a new one.
const SEED = Number(process.env.KMS_FUZZ_SEED ?? (process.env.CI ? 20261201 : Date.now() % 1_000_000));
const RUNS = 120;
const RSS_GROWTH_BOUND = 150 * 1024 * 1024;

let server: TestServer;
let targets: Targets;
let rssBefore: number;
const tally = new Tally();
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const MESSAGE = b64(Buffer.from('fuzz message'));

beforeAll(async () => {
  server = await startServer();
  targets = await createTargets(server);
  rssBefore = residentBytes(server.process.pid!);
});
afterAll(async () => {
  console.log(`${tally.summary(`fuzz-wire (seed ${SEED})`)}; server RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> `
    + `${(residentBytes(server.process.pid!) / 2 ** 20).toFixed(0)} MiB`);
  await server?.remove();
});

const send = (operation: string, input: unknown) => sendChecked(server, operation, JSON.stringify(input), tally);
const options = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** A copy with some bits flipped (at least one). */
const flipped = (bytes: Buffer) => fc.array(fc.nat({ max: bytes.length * 8 - 1 }), { minLength: 1, maxLength: 4 })
  .map((bits) => {
    const copy = Buffer.from(bytes);
    for (const bit of new Set(bits)) copy[bit >> 3]! ^= 1 << (bit & 7);
    return copy;
  })
  .filter((copy) => !copy.equals(bytes));
/** A strict prefix (possibly empty), or the bytes with junk appended. */
const cut = (bytes: Buffer) => fc.oneof(
  fc.nat({ max: bytes.length - 1 }).map((length) => bytes.subarray(0, length)),
  fc.uint8Array({ minLength: 1, maxLength: 32 }).map((extra) => Buffer.concat([bytes, extra])),
);

describe(`forged cryptographic inputs (seed ${SEED})`, () => {
  it('truncated, extended and bit-flipped ciphertext blobs never decrypt', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(flipped(targets.ciphertext), cut(targets.ciphertext)), async (blob) => {
      const response = await send('Decrypt', { CiphertextBlob: b64(blob) });
      expect(response.status).toBe(400);
      expect(['InvalidCiphertextException', 'ValidationException']).toContain(response.json!.__type);
    }), options);
  });

  it('forged blobs fail ReEncrypt and Decrypt-with-KeyId the same way', async () => {
    await fc.assert(fc.asyncProperty(flipped(targets.ciphertext), async (blob) => {
      const reEncrypted = await send('ReEncrypt', { CiphertextBlob: b64(blob), DestinationKeyId: targets.keyId });
      expect(reEncrypted.json!.__type).toMatch(/^(InvalidCiphertextException|IncorrectKeyException)$/);
      const decrypted = await send('Decrypt', { CiphertextBlob: b64(blob), KeyId: targets.keyId });
      expect(decrypted.json!.__type).toMatch(/^(InvalidCiphertextException|IncorrectKeyException)$/);
    }), { ...options, numRuns: RUNS / 2 });
  });

  it('RSA Decrypt of garbage and of mangled OAEP ciphertexts answers InvalidCiphertextException', async () => {
    const encrypted = await send('Encrypt', { KeyId: targets.rsaKeyId, Plaintext: MESSAGE, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    const ciphertext = Buffer.from(encrypted.json!.CiphertextBlob as string, 'base64');
    await fc.assert(fc.asyncProperty(fc.oneof(flipped(ciphertext), cut(ciphertext).filter((c) => c.length > 0), fc.uint8Array({ minLength: 1, maxLength: 300 }).map(Buffer.from)),
      async (blob) => {
        const response = await send('Decrypt', { CiphertextBlob: b64(blob), KeyId: targets.rsaKeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
        expect(response.json!.__type).toBe('InvalidCiphertextException');
      }), { ...options, numRuns: RUNS / 2 });
  });

  it('flipped or cut signatures, and signatures over other messages, are KMSInvalidSignatureException', async () => {
    const verify = (signature: Uint8Array, message = MESSAGE) => send('Verify',
      { KeyId: targets.eccKeyId, Message: message, Signature: b64(signature), SigningAlgorithm: 'ECDSA_SHA_256' });
    expect((await verify(targets.signature)).json).toMatchObject({ SignatureValid: true });
    await fc.assert(fc.asyncProperty(fc.oneof(flipped(targets.signature), cut(targets.signature).filter((s) => s.length > 0)), async (signature) => {
      const response = await verify(signature);
      expect(response.status).toBe(400);
      expect(response.json!.__type).toBe('KMSInvalidSignatureException');
    }), options);
    await fc.assert(fc.asyncProperty(flipped(Buffer.from('fuzz message')), async (message) => {
      expect((await verify(targets.signature, b64(message))).json!.__type).toBe('KMSInvalidSignatureException');
    }), { ...options, numRuns: RUNS / 4 });
  });

  it('flipped or cut MACs are KMSInvalidMacException', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(flipped(targets.mac), cut(targets.mac).filter((m) => m.length > 0)), async (mac) => {
      const response = await send('VerifyMac', { KeyId: targets.hmacKeyId, Message: MESSAGE, Mac: b64(mac), MacAlgorithm: 'HMAC_SHA_256' });
      expect(response.json!.__type).toBe('KMSInvalidMacException');
    }), options);
  });

  it('an encryption context key named __proto__ is a key like any other', async () => {
    const context = JSON.parse('{"__proto__":"x","purpose":"test"}') as Record<string, string>;
    const encrypted = await send('Encrypt', { KeyId: targets.keyId, Plaintext: MESSAGE, EncryptionContext: context });
    expect(encrypted.status).toBe(200);
    const blob = encrypted.json!.CiphertextBlob;
    expect((await send('Decrypt', { CiphertextBlob: blob, EncryptionContext: { purpose: 'test' } })).json!.__type).toBe('InvalidCiphertextException');
    expect((await send('Decrypt', { CiphertextBlob: blob, EncryptionContext: context })).json!.Plaintext).toBe(MESSAGE);
  });
});

describe('malformed bodies', () => {
  it('bad base64 is a 4xx, never quoted back', async () => {
    for (const text of [`${MARKER}=`, `${MARKER}!`, 'QUJD\n', 'QU JD', 'QUJD====', '=QUJD', 'QUJ', '\u00e9\u00e9\u00e9\u00e9', 'QUJD'.repeat(3000) + '!']) {
      for (const operation of ['Decrypt', 'Encrypt', 'Verify']) {
        const response = await send(operation, { KeyId: targets.keyId, CiphertextBlob: text, Plaintext: text, Message: text, Signature: text, SigningAlgorithm: 'ECDSA_SHA_256' });
        expect(response.status).toBe(400);
      }
    }
  });

  it('real request bodies corrupted byte by byte (then signed) are answered 2xx or 4xx', async () => {
    const bodies = [
      JSON.stringify({ KeyId: targets.keyId, Plaintext: MESSAGE, EncryptionContext: { purpose: MARKER } }),
      JSON.stringify({ CiphertextBlob: b64(targets.ciphertext) }),
      JSON.stringify({ KeyId: targets.eccKeyId, Message: MESSAGE, Signature: b64(targets.signature), SigningAlgorithm: 'ECDSA_SHA_256' }),
      JSON.stringify({ Description: MARKER, Tags: [{ TagKey: MARKER, TagValue: MARKER }], KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
    ];
    const operations = ['Encrypt', 'Decrypt', 'Verify', 'CreateKey'];
    const mutation = fc.record({
      which: fc.nat({ max: bodies.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 3 }),
    });
    await fc.assert(fc.asyncProperty(mutation, async ({ which, edits }) => {
      const bytes = [...Buffer.from(bodies[which]!)];
      for (const [at, value, kind] of edits) {
        const i = at % (bytes.length + 1);
        if (kind === 'set') bytes[Math.min(i, bytes.length - 1)] = value;
        else if (kind === 'insert') bytes.splice(i, 0, value);
        else bytes.splice(i, 1);
      }
      await sendChecked(server, operations[which]!, Buffer.from(bytes), tally);
    }), { ...options, numRuns: RUNS * 2 });
  });

  it('deeply nested, enormous-number, duplicate-key and non-object bodies are answered in the AWS shape', async () => {
    const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);
    const bodies = [
      `{"KeyId":${deep(100_000, '[', ']')}}`,
      deep(100_000, '[', ']'),
      `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`,
      `{"KeyId":"${targets.keyId}","NumberOfBytes":1e400}`,
      `{"NumberOfBytes":-1e400}`,
      `{"NumberOfBytes":123456789012345678901234567890}`,
      `{"NumberOfBytes":-0}`,
      `{"NumberOfBytes":32.5}`,
      `{"KeyId":"${targets.keyId}","KeyId":{"${MARKER}":1}}`,
      '"just a string"', '42', 'null', 'true', '[]', '', ' ', '{', '}', '{"a":}', '\u0000', '\uFEFF{}',
      `{"KeyId":"\\ud800${MARKER}","Plaintext":"${MESSAGE}"}`,
      `{"__proto__":{"KeyId":"${targets.keyId}"},"constructor":{"prototype":{"${MARKER}":1}}}`,
    ];
    for (const operation of ['GenerateRandom', 'Encrypt', 'DescribeKey', 'CreateKey', 'ListKeys']) {
      for (const body of bodies) {
        const response = await sendChecked(server, operation, body, tally);
        // Only one body carries a usable KeyId (beside a number that does not matter to DescribeKey).
        if (operation === 'Encrypt') expect(response.status).toBeGreaterThanOrEqual(400);
      }
    }
    // Prototype pollution did not happen: a fresh CreateKey still has no marker member.
    const created = await send('CreateKey', {});
    expect(JSON.stringify(created.json)).not.toContain(MARKER);
  });

  it('broken headers are answered in the AWS shape', async () => {
    const body = JSON.stringify({ KeyId: targets.keyId });
    // Each of these breaks the target or the signature: refused.
    const refused: Array<Record<string, string>> = [
      { 'x-amz-target': '' }, { 'x-amz-target': `TrentService.${MARKER}` }, { 'x-amz-target': 'TrentService.' },
      { 'x-amz-target': 'Other.DescribeKey' }, { authorization: '' }, { authorization: `AWS4-HMAC-SHA256 ${MARKER}` },
      { authorization: 'AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=' }, { 'x-amz-date': MARKER },
      { 'x-amz-date': '' }, { host: MARKER },
    ];
    for (const headers of refused) {
      const response = await sendChecked(server, 'DescribeKey', body, tally, headers);
      expect(response.status, JSON.stringify(headers)).toBeGreaterThanOrEqual(400);
    }
    // Unsigned extras the server may ignore: answered either way, in the AWS shape.
    const ignorable: Array<Record<string, string>> = [{ 'content-type': 'text/plain' }, { 'x-amz-security-token': MARKER }, { 'content-encoding': 'gzip' }, { [MARKER.toLowerCase()]: MARKER }];
    for (const headers of ignorable) {
      await sendChecked(server, 'DescribeKey', body, tally, headers);
    }
    // No body at all, and a GET where a POST belongs.
    const empty = await post(server, 'DescribeKey', '');
    expect(empty.status).toBe(400);
    const getResponse = await fetch(`${server.url}/`, { headers: signedHeaders(server, 'DescribeKey', '') });
    expect(getResponse.status).toBeGreaterThanOrEqual(400);
    expect(getResponse.status).toBeLessThan(500);
  });

  it('left the server serving, with no 5xx and flat memory', async () => {
    expect(tally.serverErrors).toEqual([]);
    expect((await send('ListKeys', {})).status).toBe(200);
    expect(residentBytes(server.process.pid!) - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);
  });
});
