// The whole HTTP/JSON surface, case by case against AWS's own model (/work/shared/kms-service-model.json, the
// uncompacted botocore file, read here independently of the engine's copy): for every operation and every member,
// each wrong JSON type is SerializationException, each bad base64 form too, integers out of range or not integers
// are refused by the right error, lengths are taken exactly at the model's limit and refused one past it; then
// bodies, Unicode, Content-Type, X-Amz-Target, methods, paths, HTTP versions and framing, oversized and injected
// headers. Every answer: no 5xx, JSON, an error exactly {"__type","message"} whose type the model lists for the
// operation (or a common AWS JSON error) with AWS's status, nothing planted quoted back; and afterwards the server
// still encrypts and decrypts, with flat memory.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amzDate, canonicalRequest, computeSignature, sha256Hex } from '../../src/auth/sigv4.js';
import type { TestServer } from '../support/server.js';
import {
  checkResponse, MARKER, residentBytes, startFuzzedServer, stopFuzzedServer, Tally, type FuzzedServer, type Targets,
} from './fuzz-support.js';
import { call, openConnection, post, splitResponses, type RawAnswer, type RawResponse } from './raw-client.js';

interface AwsShape {
  type: string;
  members?: Record<string, { shape: string }>;
  required?: string[];
  member?: { shape: string };
  min?: number;
  max?: number;
  enum?: string[];
  exception?: boolean;
}
interface AwsModel {
  operations: Record<string, { input?: { shape: string }; errors?: Array<{ shape: string }> }>;
  shapes: Record<string, AwsShape>;
}
const AWS_MODEL = JSON.parse(readFileSync('/work/shared/kms-service-model.json', 'utf8')) as AwsModel;
const OPERATIONS = Object.keys(AWS_MODEL.operations);

/** Errors any AWS JSON 1.1 endpoint answers besides the modeled ones (kms-api.md 1.3), and the 413 of a body too large. */
const COMMON_ERRORS = ['AccessDeniedException', 'IncompleteSignatureException', 'InvalidSignatureException',
  'MissingAuthenticationTokenException', 'NotAuthorizedException', 'SerializationException', 'ThrottlingException',
  'UnknownOperationException', 'UnrecognizedClientException', 'ValidationException', 'RequestEntityTooLargeException'];
/**
 * Errors the engine answers where the model lists none, as documented: it serves no custom key stores and no Nitro
 * Enclave recipients (README: UnsupportedOperationException, with the reason in the message), and a malformed ARN
 * in any parameter is InvalidArnException (kms-api.md 1.3).
 */
const DOCUMENTED_EXTRA_ERRORS: Record<string, string[]> = Object.fromEntries(OPERATIONS.map((operation) => {
  const input = AWS_MODEL.operations[operation]!.input;
  const members = input === undefined ? [] : Object.keys(AWS_MODEL.shapes[input.shape]!.members ?? {});
  const unsupported = operation.endsWith('CustomKeyStore') || members.includes('Recipient');
  return [operation, ['InvalidArnException', ...(unsupported ? ['UnsupportedOperationException'] : [])]];
}));
/** HTTP status per kms-api.md 1.3 (Smithy httpError); every other error is 400. */
const STATUS: Record<string, number> = {
  NotFoundException: 404, AlreadyExistsException: 409, DisabledException: 409, KMSInvalidStateException: 409,
  ConflictException: 409, DryRunOperationException: 412, RequestEntityTooLargeException: 413,
};

// CI replays one known seed (a red CI must mean a regression); elsewhere each run explores a new one.
const SEED = Number(process.env.KMS_FUZZ_SEED ?? (process.env.CI ? 20261203 : Date.now() % 1_000_000));
const RSS_GROWTH_BOUND = 150 * 1024 * 1024;

let fuzzed: FuzzedServer | undefined;
let server: TestServer;
let targets: Targets;
let rssBefore: number;
const tally = new Tally();

beforeAll(async () => {
  fuzzed = await startFuzzedServer();
  ({ server, targets, rssBefore } = fuzzed);
});
afterAll(() => stopFuzzedServer(fuzzed, tally, `fuzz-surface (seed ${SEED})`));

/** The shape invariants (fuzz-support.ts), then: an error the model lists for this operation, with AWS's status. */
function checkAnswer(operation: string, response: RawResponse, what: string): void {
  checkResponse(response, tally, `${operation} ${what}`);
  if (response.status === 200) return;
  const type = response.json!.__type as string;
  const modeled = (AWS_MODEL.operations[operation]?.errors ?? []).map((error) => error.shape);
  expect([...modeled, ...COMMON_ERRORS, ...DOCUMENTED_EXTRA_ERRORS[operation] ?? []], `${operation} ${what}: ${response.text.slice(0, 200)}`).toContain(type);
  expect(response.status, `${operation} ${what}: ${type}`).toBe(STATUS[type] ?? 400);
}

/** Sends a signed body to an operation and checks the answer; returns it. */
async function send(operation: string, body: string | Buffer, what = typeof body === 'string' ? body.slice(0, 120) : '<bytes>'): Promise<RawResponse> {
  const response = await post(server, operation, body);
  checkAnswer(operation, response, what);
  return response;
}

const typeOf = (response: RawResponse) => response.json?.__type;

/** Top-level members of an operation's input, with their shapes. */
function membersOf(operation: string): Array<[string, AwsShape]> {
  const input = AWS_MODEL.operations[operation]!.input;
  if (input === undefined) return [];
  return Object.entries(AWS_MODEL.shapes[input.shape]!.members ?? {}).map(([name, member]) => [name, AWS_MODEL.shapes[member.shape]!]);
}

/** JSON values of every type but the ones a shape takes. */
function wrongTypes(shape: AwsShape): unknown[] {
  const all: Record<string, unknown[]> = {
    string: [`${MARKER}`], number: [7, -1.5, 1e300], boolean: [true, false], array: [[], [MARKER]], object: [{}, { [MARKER]: MARKER }],
  };
  const takes: Record<string, string[]> = {
    string: ['string'], blob: ['string'], integer: ['number'], long: ['number'], boolean: ['boolean'], timestamp: ['number'],
    list: ['array'], map: ['object'], structure: ['object'],
  };
  // A timestamp may also be sent as a string in some protocols; only types no protocol takes are wrong here.
  const taken = shape.type === 'timestamp' ? ['number', 'string'] : takes[shape.type]!;
  return Object.entries(all).filter(([kind]) => !taken.includes(kind)).flatMap(([, values]) => values);
}

describe('every member of every operation, by the model', () => {
  it('a wrong JSON type is SerializationException (400), whichever member and whatever else is missing', async () => {
    let cases = 0;
    for (const operation of OPERATIONS) {
      for (const [name, shape] of membersOf(operation)) {
        for (const value of wrongTypes(shape)) {
          const response = await send(operation, JSON.stringify({ [name]: value }));
          expect({ operation, name, value, type: typeOf(response) }).toEqual({ operation, name, value, type: 'SerializationException' });
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(1000);
  });

  it('null is an absent member: a required one is "must not be null" (ValidationException), never a type error', async () => {
    for (const operation of OPERATIONS) {
      const input = AWS_MODEL.operations[operation]!.input;
      const required = input === undefined ? [] : AWS_MODEL.shapes[input.shape]!.required ?? [];
      for (const name of required) {
        const response = await send(operation, JSON.stringify({ [name]: null }));
        expect({ operation, name, type: typeOf(response) }).toEqual({ operation, name, type: 'ValidationException' });
        expect(response.json!.message).toContain('Member must not be null');
      }
    }
  });

  it('blobs: base64 that is not strict standard base64 is SerializationException', async () => {
    const invalid = ['aGVsbG8', 'aGVsbG8==', 'aGVs bG8=', 'aGVs\nbG8=', ' aGVsbG8=', 'aGVsbG8=\t', '-_-_', '+/+_', 'a===',
      '====', '=aGVs', 'aGVsbG8=aGk=', 'aGk\u00e9', `${MARKER}=`, 'aGk=\u0000'];
    for (const operation of OPERATIONS) {
      for (const [name, shape] of membersOf(operation)) {
        if (shape.type !== 'blob') continue;
        for (const text of invalid) {
          const response = await send(operation, JSON.stringify({ [name]: text }));
          expect({ operation, name, text, type: typeOf(response) }).toEqual({ operation, name, text, type: 'SerializationException' });
        }
      }
    }
  });

  it('integers: fractions, overflow and strings are SerializationException; out of range is ValidationException; exact forms are taken', async () => {
    for (const operation of OPERATIONS) {
      for (const [name, shape] of membersOf(operation)) {
        if (shape.type !== 'integer' && shape.type !== 'long') continue;
        const wrongType = ['1.5', '-0.5', '1e400', '-1e400', '"5"', '0x10', 'NaN', 'Infinity'];
        for (const number of wrongType) {
          const response = await send(operation, `{"${name}":${number}}`);
          // 0x10, NaN and Infinity are not JSON at all: also SerializationException.
          expect({ operation, name, number, type: typeOf(response) }).toEqual({ operation, name, number, type: 'SerializationException' });
        }
        const outOfRange = [String((shape.min ?? 0) - 1), String((shape.max ?? 2 ** 31) + 1), '-2147483649', '2147483648',
          '123456789012345678901234567890', '-9007199254740993'];
        for (const number of outOfRange) {
          const response = await send(operation, `{"${name}":${number}}`);
          expect({ operation, name, number, type: typeOf(response) }).toEqual({ operation, name, number, type: 'ValidationException' });
          expect(response.json!.message).toContain(`'${name.charAt(0).toLowerCase()}${name.slice(1)}'`);
        }
        // The minimum, written as an exponent and with a fraction of zero: the same number, not a type error.
        const min = shape.min ?? 1;
        for (const number of [`${min}`, `${min}.0`, `${min}e0`, `${min * 10}E-1`]) {
          const response = await send(operation, `{"${name}":${number}}`);
          expect(typeOf(response), `${operation}.${name} = ${number}`).not.toBe('SerializationException');
          expect(response.text, `${operation}.${name} = ${number}`).not.toMatch(new RegExp(`'${name.charAt(0).toLowerCase()}${name.slice(1)}' failed`));
        }
      }
    }
  });

  it('string lengths: taken exactly at the model maximum, refused one past it (counted in characters, 4-byte ones too)', async () => {
    let checked = 0;
    for (const operation of OPERATIONS) {
      for (const [name, shape] of membersOf(operation)) {
        if (shape.type !== 'string' || shape.max === undefined || shape.enum !== undefined) continue;
        const path = `'${name.charAt(0).toLowerCase()}${name.slice(1)}'`;
        const tooLong = `Value at ${path} failed to satisfy constraint: Member must have length less than or equal to ${shape.max}`;
        for (const unit of ['a', '\u{1F511}']) {
          const atMax = await send(operation, JSON.stringify({ [name]: unit.repeat(shape.max) }), `${name} = ${shape.max} x ${unit}`);
          expect(atMax.text, `${operation}.${name} at its maximum`).not.toContain(tooLong);
          const past = await send(operation, JSON.stringify({ [name]: unit.repeat(shape.max + 1) }), `${name} = ${shape.max + 1} x ${unit}`);
          expect({ operation, name, type: typeOf(past) }).toEqual({ operation, name, type: 'ValidationException' });
          expect(past.json!.message).toContain(tooLong);
          checked++;
        }
        if ((shape.min ?? 0) > 0) {
          const empty = await send(operation, JSON.stringify({ [name]: '' }));
          expect({ operation, name, type: typeOf(empty) }).toEqual({ operation, name, type: 'ValidationException' });
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('unknown members, duplicate member names and members named like prototype properties are answered in the AWS shape', async () => {
    for (const operation of OPERATIONS) {
      await send(operation, `{"${MARKER}":{"a":[1,{"b":null}]},"__proto__":{"KeyId":"${MARKER}"},"constructor":1}`);
      const members = membersOf(operation);
      if (members.length > 0) await send(operation, `{"${members[0]![0]}":"${MARKER}","${members[0]![0]}":{"${MARKER}":1}}`);
    }
    // The last duplicate wins (as JSON.parse and Jackson read it): the first, a wrong type, is not what is checked.
    const duplicate = await send('GenerateRandom', '{"NumberOfBytes":"x","NumberOfBytes":16}');
    expect(Buffer.from(duplicate.json!.Plaintext as string, 'base64')).toHaveLength(16);
  });
});

describe('property: any input built from the model', () => {
  it('every operation, every member filled with values of any type and any Unicode, is answered in the AWS shape', async () => {
    const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(MARKER, '', targets.keyId, targets.aliasName, targets.keyArn,
      'arn:', 'arn:aws:kms:::key/', `${targets.keyArn}/x`, 'alias/aws/', 'arn:aws:iam::111122223333:root'));
    const anyValue = fc.oneof(anyString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
      fc.array(anyString, { maxLength: 3 }), fc.dictionary(anyString, anyString, { maxKeys: 3 }), fc.jsonValue({ maxDepth: 3 }));
    const request = fc.constantFrom(...OPERATIONS).chain((operation) => {
      const names = membersOf(operation).map(([name]) => name);
      const members = Object.fromEntries(names.map((name) => [name, anyValue]));
      return fc.tuple(fc.constant(operation), fc.record(members, { requiredKeys: [] }));
    });
    await fc.assert(fc.asyncProperty(request, async ([operation, input]) => {
      await send(operation, JSON.stringify(input));
    }), { numRuns: 600, seed: SEED, endOnFailure: true });
  });
});

describe('Unicode in encryption contexts, tags, descriptions and aliases', () => {
  const plaintext = Buffer.from('surface').toString('base64');
  /** One UTF-16 unit of anything, lone surrogates included. */
  const anyUnit = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ufffd', '\u0000', '?'));
  const contextText = fc.string({ unit: anyUnit, minLength: 1, maxLength: 8 });
  const isWellFormed = (text: string) => !/\p{Cs}/u.test(text);

  it('property: a context is bound exactly: it decrypts its own ciphertext and no context one character away does', async () => {
    // A key of its own: the fuzzing above may have disabled or scheduled the deletion of the shared targets.
    const keyId = ((await call(server, 'CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId;
    const input = fc.record({ key: contextText, value: contextText, at: fc.nat(), replacement: anyUnit });
    await fc.assert(fc.asyncProperty(input, async ({ key, value, at, replacement }) => {
      const context = { [key]: value };
      const encrypted = await send('Encrypt', JSON.stringify({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }), 'context');
      if (!isWellFormed(key) || !isWellFormed(value)) {
        // No UTF-8 holds a lone surrogate: refused, not bound as U+FFFD (which made "\ud800" and "\udfff" one context).
        expect(typeOf(encrypted)).toBe('SerializationException');
        return;
      }
      expect(encrypted.status).toBe(200);
      const blob = encrypted.json!.CiphertextBlob as string;
      const decrypted = await send('Decrypt', JSON.stringify({ CiphertextBlob: blob, EncryptionContext: context }), 'context');
      expect(decrypted.json!.Plaintext).toBe(plaintext);
      const units = [...value];
      const changed = units.map((unit, i) => (i === at % units.length ? replacement : unit)).join('');
      if (changed === value) return;
      const other = await send('Decrypt', JSON.stringify({ CiphertextBlob: blob, EncryptionContext: { [key]: changed } }), 'context');
      expect(typeOf(other), `${JSON.stringify(value)} vs ${JSON.stringify(changed)}`).toBe(isWellFormed(changed) ? 'InvalidCiphertextException' : 'SerializationException');
    }), { numRuns: 150, seed: SEED, endOnFailure: true });
  });

  it('lone surrogate escapes anywhere in a body are SerializationException; escaped pairs are one character and taken', async () => {
    const key = (await call(server, 'CreateKey', {})).KeyMetadata as { KeyId: string };
    // The collision this closes: a ciphertext bound to {"\ufffd":"x"} opened with {"\ud800":"x"}, a context never used.
    const bound = await call(server, 'Encrypt', { KeyId: key.KeyId, Plaintext: plaintext, EncryptionContext: { '\ufffd': 'x' } });
    const opened = await send('Decrypt', `{"CiphertextBlob":"${bound.CiphertextBlob as string}","EncryptionContext":{"\\ud800":"x"}}`);
    expect(opened.json).toEqual({ __type: 'SerializationException', message: expect.any(String) });
    const lone = ['\\ud800', '\\uDFFF', 'a\\udc00b', '\\ud83d', '\\ude00\\ud83d'];
    for (const escape of lone) {
      for (const [operation, body] of [
        ['Encrypt', `{"KeyId":"${key.KeyId}","Plaintext":"${plaintext}","EncryptionContext":{"${escape}":"x"}}`],
        ['Encrypt', `{"KeyId":"${key.KeyId}","Plaintext":"${plaintext}","EncryptionContext":{"k":"${escape}"}}`],
        ['TagResource', `{"KeyId":"${key.KeyId}","Tags":[{"TagKey":"${escape}","TagValue":"v"}]}`],
        ['UpdateKeyDescription', `{"KeyId":"${key.KeyId}","Description":"${escape}"}`],
        ['ListKeys', `{"${escape}":1}`],
      ] as const) {
        const response = await send(operation, body);
        expect({ operation, body, type: typeOf(response) }).toEqual({ operation, body, type: 'SerializationException' });
      }
    }
    // A pair written as escapes is the character itself, and round-trips.
    await send('UpdateKeyDescription', `{"KeyId":"${key.KeyId}","Description":"\\ud83d\\udd11 key"}`);
    expect(((await call(server, 'DescribeKey', { KeyId: key.KeyId })).KeyMetadata as { Description: string }).Description).toBe('\u{1F511} key');
    // A backslash escaped before "ud800" is text, not an escape.
    await send('UpdateKeyDescription', `{"KeyId":"${key.KeyId}","Description":"\\\\ud800"}`);
    expect(((await call(server, 'DescribeKey', { KeyId: key.KeyId })).KeyMetadata as { Description: string }).Description).toBe('\\ud800');
  });

  it('NFC and NFD are different contexts and different tag keys; control and 4-byte characters round-trip', async () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    const key = (await call(server, 'CreateKey', {})).KeyMetadata as { KeyId: string };
    const encrypted = await call(server, 'Encrypt', { KeyId: key.KeyId, Plaintext: plaintext, EncryptionContext: { [nfc]: nfc } });
    const wrong = await send('Decrypt', JSON.stringify({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { [nfd]: nfd } }));
    expect(typeOf(wrong)).toBe('InvalidCiphertextException');
    const tags = [{ TagKey: nfc, TagValue: '\u0001\u0007\u001f' }, { TagKey: nfd, TagValue: '\u{1F511}'.repeat(256) }, { TagKey: '\u{10FFFF}', TagValue: '' }];
    await call(server, 'TagResource', { KeyId: key.KeyId, Tags: tags });
    const listed = (await call(server, 'ListResourceTags', { KeyId: key.KeyId })).Tags as typeof tags;
    expect([...listed].sort((a, b) => (a.TagKey < b.TagKey ? -1 : 1))).toEqual([...tags].sort((a, b) => (a.TagKey < b.TagKey ? -1 : 1)));
    // Alias names are ASCII by pattern: a composed or decomposed letter is refused, not normalised.
    for (const name of [`alias/${nfc}`, `alias/${nfd}`, 'alias/\u{1F511}', 'alias/a\u0000b']) {
      expect(typeOf(await send('CreateAlias', JSON.stringify({ AliasName: name, TargetKeyId: key.KeyId })))).toBe('ValidationException');
    }
  });
});

describe('bodies', () => {
  it('empty, not an object, not JSON, not UTF-8, byte-order-marked or nested 400,000 deep: the AWS shape, never a 5xx', async () => {
    const bodies: Array<[string | Buffer, string | undefined]> = [
      ['null', 'SerializationException'], ['[]', 'SerializationException'], ['"x"', 'SerializationException'], ['1', 'SerializationException'],
      ['true', 'SerializationException'], [' ', 'SerializationException'], ['{', 'SerializationException'], ['{}{}', 'SerializationException'],
      ['{} x', 'SerializationException'], ['\uFEFF{}', 'SerializationException'], [Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'SerializationException'],
      [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'SerializationException'], [Buffer.from('{"a":1}', 'utf16le'), 'SerializationException'],
      ["{'KeyId':'x'}", 'SerializationException'], ['{"KeyId":"x",}', 'SerializationException'], ['{"KeyId":"a\u0001b"}', 'SerializationException'],
    ];
    const deep = [`{"x":${'['.repeat(400_000)}${']'.repeat(400_000)}}`, `${'{"a":'.repeat(150_000)}1${'}'.repeat(150_000)}`,
      `{"EncryptionContext":{"a":${'['.repeat(400_000)}${']'.repeat(400_000)}}}`];
    for (const operation of ['Encrypt', 'CreateKey', 'ListKeys']) {
      for (const body of deep) await send(operation, body, `${body.slice(0, 30)}...`);
    }
    for (const operation of OPERATIONS) {
      for (const [body, type] of bodies) {
        const response = await send(operation, body, typeof body === 'string' ? body.slice(0, 40) : body.toString('hex'));
        if (type !== undefined) expect({ operation, body: String(body).slice(0, 40), type: typeOf(response) }).toEqual({ operation, body: String(body).slice(0, 40), type });
      }
      // No body is {}: an operation with required members says which (ValidationException), one without succeeds or fails on its own terms.
      const empty = await send(operation, '');
      expect(typeOf(empty)).not.toBe('SerializationException');
    }
  });
});

/** Signs exactly the given headers (plus x-amz-date) as the root principal: for Content-Type and target variants. */
function signedWith(headers: Record<string, string>, body: string, options: { method?: string; path?: string; query?: string } = {}): Record<string, string> {
  const stamp = amzDate(new Date());
  const all: Record<string, string> = { host: `127.0.0.1:${server.port}`, ...headers, 'x-amz-date': stamp };
  const names = Object.keys(all).map((name) => name.toLowerCase()).sort();
  const lookup = (name: string) => Object.entries(all).find(([key]) => key.toLowerCase() === name)?.[1];
  const canonical = canonicalRequest(options.method ?? 'POST', options.path ?? '/', lookup, names, sha256Hex(body), options.query ?? '');
  const signature = computeSignature(server.credentials.secretAccessKey, stamp, stamp.slice(0, 8), server.region, 'kms', canonical);
  return {
    ...all,
    authorization: `AWS4-HMAC-SHA256 Credential=${server.credentials.accessKeyId}/${stamp.slice(0, 8)}/${server.region}/kms/aws4_request, `
      + `SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

/** Writes raw bytes on a new connection and returns every answer until the server closes it. */
async function exchange(data: string | Buffer): Promise<RawAnswer[]> {
  const connection = await openConnection(server.port);
  connection.socket.end(data);
  return splitResponses(await connection.closed(10_000));
}

/** A raw request: a request line, the headers as given (in order, duplicates allowed), the body. */
const rawRequest = (line: string, headers: Array<[string, string]>, body = '') =>
  `${line}\r\n${headers.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n${body}`;

/** An answer at the HTTP layer: a 4xx in the AWS shape (status per the refusal, not the KMS table), or a 200. */
function checkRawAnswer(answer: RawAnswer | undefined, what: string): void {
  tally.requests++;
  expect(answer, `${what}: no answer`).toBeDefined();
  if (answer!.status >= 500) tally.serverErrors.push(`${what} -> ${answer!.status}`);
  expect(answer!.status, `${what}: ${answer!.body.slice(0, 200)}`).toBeLessThan(500);
  if (answer!.status === 100 || answer!.status === 200) return;
  expect(answer!.headers['content-type'], what).toBe('application/x-amz-json-1.1');
  if (answer!.body === '') return; // HEAD: the status and headers only
  const body = JSON.parse(answer!.body) as Record<string, unknown>;
  expect(Object.keys(body).sort(), what).toEqual(['__type', 'message']);
  expect(COMMON_ERRORS.concat('RequestTimeoutException'), what).toContain(body.__type);
  expect(body.message, what).not.toContain(MARKER);
}

describe('HTTP: headers, methods, paths, versions and framing', () => {
  const body = '{}';
  const listKeys = (extra: Record<string, string> = {}) => signedWith({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys', ...extra }, body);

  it('Content-Type is not what routes a JSON 1.1 call: signed variants (or none) are all served', async () => {
    for (const contentType of [undefined, 'application/json', 'application/x-amz-json-1.1; charset=utf-8', 'application/x-amz-json-1.0',
      'text/plain', '', 'APPLICATION/X-AMZ-JSON-1.1', `application/${MARKER}`]) {
      const headers = contentType === undefined ? signedWith({ 'x-amz-target': 'TrentService.ListKeys' }, body) : listKeys({ 'content-type': contentType });
      const [answer] = await exchange(rawRequest('POST / HTTP/1.1', [...Object.entries(headers), ['content-length', '2'], ['connection', 'close']], body));
      checkRawAnswer(answer, `content-type ${contentType}`);
      expect(answer!.status, `content-type ${contentType}`).toBe(200);
    }
  });

  it('X-Amz-Target: missing, empty, another prefix or case, a list, an object property: UnknownOperationException', async () => {
    for (const target of [undefined, '', 'TrentService', 'TrentService.', 'trentservice.ListKeys', 'TRENTSERVICE.ListKeys',
      'TrentService.listKeys', 'TrentService_20141101.ListKeys', 'KMS.ListKeys', 'TrentService.ListKeys,TrentService.ListKeys',
      'TrentService.toString', 'TrentService.__proto__', `TrentService.${MARKER}`, `TrentService.${'A'.repeat(8000)}`]) {
      const headers = signedWith(target === undefined ? { 'content-type': 'application/x-amz-json-1.1' } : { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, body);
      const [answer] = await exchange(rawRequest('POST / HTTP/1.1', [...Object.entries(headers), ['content-length', '2'], ['connection', 'close']], body));
      checkRawAnswer(answer, `target ${target?.slice(0, 40)}`);
      expect({ target: target?.slice(0, 40), type: JSON.parse(answer!.body).__type }).toEqual({ target: target?.slice(0, 40), type: 'UnknownOperationException' });
    }
    // Two X-Amz-Target headers are a list of two, not either one.
    const headers = listKeys();
    const [twice] = await exchange(rawRequest('POST / HTTP/1.1', [...Object.entries(headers), ['x-amz-target', 'TrentService.ListKeys'], ['content-length', '2'], ['connection', 'close']], body));
    checkRawAnswer(twice, 'two targets');
    expect(twice!.status).toBe(400);
  });

  it('other methods, paths and query strings: the AWS shape; signed paths and queries on POST are served', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE']) {
      const [answer] = await exchange(rawRequest(`${method} / HTTP/1.1`, [...Object.entries(listKeys()), ['content-length', '2'], ['connection', 'close']], body));
      checkRawAnswer(answer, method);
      expect({ method, status: answer!.status }).toEqual({ method, status: 404 });
    }
    for (const [path, query] of [['/', 'a=b'], ['/', 'Action=ListKeys&Version=2014-11-01'], ['/x/y', ''], ['//', ''], ['/', '%zz'], ['/', `${MARKER}=%00`]]) {
      const headers = signedWith({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' }, body, { path, query });
      const [answer] = await exchange(rawRequest(`POST ${path}${query ? `?${query}` : ''} HTTP/1.1`, [...Object.entries(headers), ['content-length', '2'], ['connection', 'close']], body));
      checkRawAnswer(answer, `${path}?${query}`);
    }
    const [unsignedQuery] = await exchange(rawRequest(`POST /?${MARKER}=1 HTTP/1.1`, [...Object.entries(listKeys()), ['content-length', '2'], ['connection', 'close']], body));
    checkRawAnswer(unsignedQuery, 'unsigned query');
    expect(JSON.parse(unsignedQuery!.body).__type).toBe('InvalidSignatureException');
  });

  it('HTTP/1.0, chunked bodies, Expect: 100-continue and bad framing: answered, never a 5xx', async () => {
    const headers = Object.entries(listKeys());
    const [http10] = await exchange(rawRequest('POST / HTTP/1.0', [...headers, ['content-length', '2']], body));
    checkRawAnswer(http10, 'HTTP/1.0');
    expect(http10!.status).toBe(200);
    const [chunked] = await exchange(rawRequest('POST / HTTP/1.1', [...headers, ['transfer-encoding', 'chunked'], ['connection', 'close']], '1\r\n{\r\n1\r\n}\r\n0\r\n\r\n'));
    checkRawAnswer(chunked, 'chunked');
    expect(chunked!.status).toBe(200);
    const continued = await exchange(rawRequest('POST / HTTP/1.1', [...headers, ['expect', '100-continue'], ['content-length', '2'], ['connection', 'close']], body));
    expect(continued.map((answer) => answer.status)).toEqual([100, 200]);
    const framing: Array<[string, Array<[string, string]>, string]> = [
      ['chunked on HTTP/1.0', [['transfer-encoding', 'chunked']], '2\r\n{}\r\n0\r\n\r\n'],
      ['two lengths', [['content-length', '2'], ['content-length', '3']], body],
      ['length and chunked', [['content-length', '2'], ['transfer-encoding', 'chunked']], '2\r\n{}\r\n0\r\n\r\n'],
      ['unknown coding', [['transfer-encoding', 'gzip']], body],
      ['negative length', [['content-length', '-1']], body],
      ['huge length', [['content-length', '99999999999999999999']], body],
      ['bad chunk size', [['transfer-encoding', 'chunked']], `zz\r\n${MARKER}\r\n0\r\n\r\n`],
      ['Expect other', [['expect', MARKER], ['content-length', '2']], body],
      ['gzip body', [['content-encoding', 'gzip'], ['content-length', '2']], body],
    ];
    for (const [what, extra, payload] of framing) {
      const line = what === 'chunked on HTTP/1.0' ? 'POST / HTTP/1.0' : 'POST / HTTP/1.1';
      const answers = await exchange(rawRequest(line, [...headers, ...extra, ['connection', 'close']], payload));
      checkRawAnswer(answers[0], what);
    }
  });

  it('headers too long, too many, injected, folded or not text: the AWS shape, and the server keeps serving', async () => {
    const headers = Object.entries(listKeys());
    const cases: Array<[string, Array<[string, string]>, number | undefined]> = [
      ['15 KB header', [['x-long', 'a'.repeat(15_000)]], 200],
      ['17 KB header', [['x-long', 'a'.repeat(17_000)]], 431],
      ['64 KB header', [['x-long', MARKER.repeat(4_000)]], 431],
      ['1,000 headers', Array.from({ length: 1000 }, (_, i) => [`x-h${i}`, 'v'] as [string, string]), 200],
      ['5,000 headers', Array.from({ length: 5000 }, (_, i) => [`x-h${i}`, 'v'] as [string, string]), 431],
      ['CR in a value', [['x-a', `a\r${MARKER}`]], 400],
      ['LF injecting a header', [['x-a', 'a\nx-amz-target: TrentService.CreateKey']], 400],
      ['NUL in a value', [['x-a', `a\u0000${MARKER}`]], 400],
      ['obsolete line folding', [['x-a', 'a\r\n b']], 400],
      ['space before the colon', [['x-a ', 'b']], 400],
      ['Latin-1 in a value', [['x-a', '\u00ff\u00e9']], 200],
      ['empty name', [['', 'b']], 400],
    ];
    for (const [what, extra, status] of cases) {
      const [answer] = await exchange(Buffer.from(rawRequest('POST / HTTP/1.1', [...headers, ...extra, ['content-length', '2'], ['connection', 'close']], body), 'latin1'));
      checkRawAnswer(answer, what);
      if (status !== undefined) expect({ what, status: answer!.status }).toEqual({ what, status });
    }
  });
});

describe('sizes a request can make the server keep', () => {
  it('a grant\'s operations are a set: 100,000 copies of two operations are stored, listed and matched as those two', async () => {
    const key = (await call(server, 'CreateKey', {})).KeyMetadata as { KeyId: string };
    const grantee = `arn:aws:iam::${server.accountId}:root`;
    const repeated = Array.from({ length: 100_000 }, (_, i) => (i % 2 === 0 ? 'Encrypt' : 'Decrypt'));
    const created = await send('CreateGrant', JSON.stringify({ KeyId: key.KeyId, Name: 'repeated', GranteePrincipal: grantee, Operations: repeated }), 'repeated operations');
    expect(created.status).toBe(200);
    const listed = (await call(server, 'ListGrants', { KeyId: key.KeyId })).Grants as Array<{ GrantId: string; Operations: string[] }>;
    expect(listed.map((grant) => grant.Operations)).toEqual([['Encrypt', 'Decrypt']]);
    // The same name and the same set of operations is the same grant (a retry), whatever the repetition.
    const retried = await call(server, 'CreateGrant', { KeyId: key.KeyId, Name: 'repeated', GranteePrincipal: grantee, Operations: ['Decrypt', 'Encrypt'] });
    expect(retried.GrantId).toBe(created.json!.GrantId);
  });
});

describe('bodies in many pieces', () => {
  it('two bodies of 900 KB chunked byte by byte are read without holding an object per chunk', async () => {
    const body = JSON.stringify({ Limit: 1, padding: 'x'.repeat(900_000) });
    const headers = signedWith({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' }, body);
    const request = Buffer.from(rawRequest('POST / HTTP/1.1', [...Object.entries(headers), ['transfer-encoding', 'chunked'], ['connection', 'close']],
      `${[...body].map((character) => `1\r\n${character}\r\n`).join('')}0\r\n\r\n`));
    const pid = server.process.pid!;
    const before = residentBytes(pid);
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, residentBytes(pid)); }, 20);
    try {
      const answers = await Promise.all([exchange(request), exchange(request)]);
      for (const [answer] of answers) {
        checkRawAnswer(answer, 'byte-by-byte chunks');
        expect(answer!.status).toBe(200);
      }
    } finally {
      clearInterval(sampler);
    }
    // Kept as a list of chunks, each such body grew the server by some 350 MB (a Buffer object per byte) until it ended.
    expect(peak - before).toBeLessThan(200 * 1024 * 1024);
  });
});

describe('afterwards', () => {
  it('the server still encrypts and decrypts, answered no 5xx, and its memory stayed flat', async () => {
    expect(tally.serverErrors).toEqual([]);
    const message = Buffer.from(`after ${tally.requests} requests`).toString('base64');
    const keyId = ((await call(server, 'CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId;
    const encrypted = await call(server, 'Encrypt', { KeyId: keyId, Plaintext: message, EncryptionContext: { purpose: 'surface' } });
    const decrypted = await call(server, 'Decrypt', { CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { purpose: 'surface' } });
    expect(decrypted.Plaintext).toBe(message);
    expect(residentBytes(server.process.pid!) - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);
  });
});
