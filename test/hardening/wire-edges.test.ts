// HTTP/1.1 and JSON edge cases at the wire that no SDK sends but broken clients, proxies and hand-made requests
// do: a request without Host, CONNECT, a pipelined request followed by bytes that are not HTTP, and JSON strings
// that are not UTF-8. Each is answered in the AWS error shape ({"__type","message"}, x-amzn-RequestId), the
// answers of the requests before it are not lost, and nothing the client sent is quoted back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { call, openConnection, post, requestHead, splitResponses, type RawAnswer as Answer } from './raw-client.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  // None of these requests reached the "internal error" path, nor had anything of theirs logged.
  expect(server.output()).not.toMatch(/unhandled error|internal error|WIREMARK/);
  await server?.remove();
});

/** Writes `data` on a new connection and returns every response until the server closes it. */
async function exchange(data: string | Buffer): Promise<Answer[]> {
  const connection = await openConnection(server.port);
  connection.socket.write(data);
  return splitResponses(await connection.closed(10_000));
}

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function expectAwsError(answer: Answer | undefined, status: number, type: string): void {
  expect(answer?.status, JSON.stringify(answer)).toBe(status);
  expect(answer!.headers['content-type']).toBe('application/x-amz-json-1.1');
  expect(answer!.headers['x-amzn-requestid']).toMatch(REQUEST_ID);
  const body = JSON.parse(answer!.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['__type', 'message']);
  expect(body.__type).toBe(type);
  expect(body.message).not.toContain('WIREMARK');
}

/** A signed request with its body, as one string for a raw connection. */
const request = (operation: string, body: string, extra: Record<string, string> = {}) => requestHead(server, operation, body, extra) + body;

describe('requests HTTP/1.1 refuses', () => {
  it('an HTTP/1.1 request without Host: 400 in the AWS shape, where Node answered a bare 400', async () => {
    const withoutHost = request('ListKeys', '{}').replace(/\r\nhost: [^\r]*/, '');
    expect(withoutHost).not.toMatch(/\r\nhost:/i);
    const [answer, ...rest] = await exchange(withoutHost);
    expectAwsError(answer, 400, 'SerializationException');
    expect(JSON.parse(answer!.body).message).toMatch(/Host/);
    expect(answer!.headers.connection).toBe('close');
    expect(rest).toEqual([]);
    // The operators' routes too: RFC 9112 asks for 400 on any HTTP/1.1 request without Host.
    const [health] = await exchange('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
    expectAwsError(health, 400, 'SerializationException');
    // HTTP/1.0 has no Host requirement: still served.
    const [old] = await exchange('GET /healthz HTTP/1.0\r\n\r\n');
    expect(old?.status).toBe(200);
  });

  it('CONNECT: 404 UnknownOperationException in the AWS shape, where the connection was dropped unanswered', async () => {
    const [answer, ...rest] = await exchange('CONNECT WIREMARK.example:443 HTTP/1.1\r\nHost: WIREMARK.example:443\r\n\r\n');
    expectAwsError(answer, 404, 'UnknownOperationException');
    expect(answer!.headers.connection).toBe('close');
    expect(rest).toEqual([]);
    expect((await post(server, 'ListKeys', '{}')).status).toBe(200);
    // Behind a pipelined request still being answered: that answer first, then the 404.
    const pipelined = await exchange(request('CreateKey', '{"KeySpec":"RSA_3072","KeyUsage":"SIGN_VERIFY"}')
      + 'CONNECT WIREMARK.example:443 HTTP/1.1\r\nHost: WIREMARK.example:443\r\n\r\n');
    expect(pipelined.map((answer) => answer.status)).toEqual([200, 404]);
    expect(JSON.parse(pipelined[0]!.body)).toHaveProperty('KeyMetadata.KeySpec', 'RSA_3072');
    expectAwsError(pipelined[1], 404, 'UnknownOperationException');
  });
});

describe('a pipelined request followed by bytes that are not HTTP', () => {
  it('the request is answered first (its write is not reported as failed), then the garbage gets its 400', async () => {
    const description = `pipelined-${Date.now()}`;
    const answers = await exchange(request('CreateKey', JSON.stringify({ Description: description })) + 'WIREMARK \u0001\r\n\r\n');
    expect(answers.map((answer) => answer.status)).toEqual([200, 400]);
    const created = JSON.parse(answers[0]!.body) as { KeyMetadata: { KeyId: string; Description: string } };
    expect(created.KeyMetadata.Description).toBe(description);
    expectAwsError(answers[1], 400, 'SerializationException');
    const described = await call(server, 'DescribeKey', { KeyId: created.KeyMetadata.KeyId });
    expect((described.KeyMetadata as { Description: string }).Description).toBe(description);
  });

  it('several answers still pending when the garbage arrives are all written, in order, before the 400', async () => {
    const answers = await exchange(request('CreateKey', '{"KeySpec":"RSA_3072","KeyUsage":"SIGN_VERIFY"}')
      + request('GenerateRandom', '{"NumberOfBytes":7}') + request('NoSuchOperation', '{}') + 'NOT HTTP\r\n\r\n');
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 400, 400]);
    expect(JSON.parse(answers[0]!.body)).toHaveProperty('KeyMetadata.KeySpec', 'RSA_3072');
    expect(Buffer.from((JSON.parse(answers[1]!.body) as { Plaintext: string }).Plaintext, 'base64')).toHaveLength(7);
    expectAwsError(answers[2], 400, 'UnknownOperationException');
    expectAwsError(answers[3], 400, 'SerializationException');
  });

  it('a body longer than its Content-Length: the request is answered for what it declared, the rest gets its 400', async () => {
    // The signature covers the whole body, so the shortened one does not verify.
    const answers = await exchange(request('ListKeys', '{"Limit":5}', { 'content-length': '2' }));
    expect(answers.map((answer) => answer.status)).toEqual([400, 400]);
    expectAwsError(answers[0], 400, 'InvalidSignatureException');
    expectAwsError(answers[1], 400, 'SerializationException');
    // A request with no length at all has no body: JSON sent behind it is read as the next request line.
    const unframed = await exchange(requestHead(server, 'ListKeys', '').replace(/\r\ncontent-length: \d+/, '') + '{}');
    expect(unframed.map((answer) => answer.status)).toEqual([200, 400]);
  });

  it('a malformed chunk inside the request being read is answered at once, after the answers before it', async () => {
    const chunked = requestHead(server, 'ListKeys', '{}', { 'transfer-encoding': 'chunked' }).replace(/content-length: \d+\r\n/, '');
    const started = Date.now();
    const answers = await exchange(request('GenerateRandom', '{"NumberOfBytes":3}') + chunked + 'zz\r\n{}\r\n0\r\n\r\n');
    expect(answers.map((answer) => answer.status)).toEqual([200, 400]);
    expectAwsError(answers[1], 400, 'SerializationException');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('a client that half-closes after its request', () => {
  it('still gets the answer of the request being carried out, then the connection closes', async () => {
    // As `nc -N` or a shutdown(SHUT_WR) client does: the request, then FIN. The answer used to be dropped (and the
    // key made anyway) whenever the operation took longer than the FIN took to arrive.
    const description = `half-closed-${Date.now()}`;
    const connection = await openConnection(server.port);
    connection.socket.end(request('CreateKey', JSON.stringify({ KeySpec: 'RSA_3072', KeyUsage: 'SIGN_VERIFY', Description: description }))
      + request('GenerateRandom', '{"NumberOfBytes":5}'));
    const answers = splitResponses(await connection.closed(10_000));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(JSON.parse(answers[0]!.body)).toHaveProperty('KeyMetadata.Description', description);
    expect(Buffer.from((JSON.parse(answers[1]!.body) as { Plaintext: string }).Plaintext, 'base64')).toHaveLength(5);
    // With nothing pending, a FIN still closes at once.
    const idle = await openConnection(server.port);
    idle.socket.end();
    expect(await idle.closed(2_000)).toBe('');
  });
});

describe('JSON bodies', () => {
  it('bytes that are not UTF-8 inside a JSON string: SerializationException, not a value silently rewritten', async () => {
    const invalid = [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82])];
    for (const bytes of invalid) {
      const body = Buffer.concat([Buffer.from('{"Description":"WIREMARK'), bytes, Buffer.from('"}')]);
      const answer = await post(server, 'CreateKey', body);
      expect(answer.status, bytes.toString('hex')).toBe(400);
      expect(answer.json).toEqual({ __type: 'SerializationException', message: 'The request body is not valid UTF-8.' });
      expect(answer.headers['x-amzn-requestid']).toMatch(REQUEST_ID);
    }
    // Valid multi-byte UTF-8 is still taken as sent.
    const created = await call(server, 'CreateKey', { Description: 'caf\u00e9 \u{1F511}' });
    expect((created.KeyMetadata as { Description: string }).Description).toBe('caf\u00e9 \u{1F511}');
  });
});

describe('edges that were already answered right (kept so)', () => {
  it('numbers for integer members: exact forms taken, fractions, strings and overflow refused by type', async () => {
    const cases: Array<[string, number, string | undefined]> = [
      ['32.0', 200, undefined], ['3.2e1', 200, undefined], ['1.5', 400, 'SerializationException'],
      ['1e309', 400, 'SerializationException'], ['"32"', 400, 'SerializationException'], ['true', 400, 'SerializationException'],
      ['-0', 400, 'ValidationException'], ['9007199254740993', 400, 'ValidationException'],
    ];
    for (const [number, status, type] of cases) {
      const answer = await post(server, 'GenerateRandom', `{"NumberOfBytes":${number}}`);
      expect({ number, status: answer.status, type: answer.json?.__type }).toEqual({ number, status, type });
    }
  });

  it('X-Amz-Target is matched exactly: another case, inner space, the namespaced form or an object key is no operation', async () => {
    for (const target of ['trentservice.ListKeys', 'TrentService.listkeys', 'TrentService. ListKeys', 'com.amazonaws.kms#ListKeys',
      'TrentService.__proto__', 'TrentService.constructor']) {
      // The target is looked up before the signature is checked, so this answer does not depend on it.
      const answer = await post(server, 'ListKeys', '{}', { headers: { 'x-amz-target': target } });
      expect({ target, status: answer.status, type: answer.json?.__type }).toEqual({ target, status: 400, type: 'UnknownOperationException' });
    }
  });
});
