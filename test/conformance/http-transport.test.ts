// The HTTP transport as clients and proxies use it, in front of the JSON 1.1 protocol (kms-api.md sections 1-3):
// query strings under SigV4, the absolute request form, request targets and Expect headers the app never sees,
// chunked bodies, 100-continue and pipelining. Raw sockets, and the real JS SDK where a client does this itself.
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { openConnection, requestHead, splitResponses, type RawAnswer as Answer } from '../hardening/raw-client.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.remove();
});

/** Writes `chunks` on one connection (pausing `gapMs` between them) and returns every response until it closes. */
async function exchange(chunks: string[], gapMs = 0): Promise<Answer[]> {
  const connection = await openConnection(server.port);
  for (const chunk of chunks) {
    connection.socket.write(chunk);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return splitResponses(await connection.closed(5_000));
}

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An error in the AWS shape, with a request id and nothing of `sent` quoted back. */
function expectAwsError(answer: Answer | undefined, status: number, type: string, sent: string): void {
  expect(answer?.status).toBe(status);
  expect(answer!.headers['content-type']).toBe('application/x-amz-json-1.1');
  expect(answer!.headers['x-amzn-requestid']).toMatch(REQUEST_ID);
  const body = JSON.parse(answer!.body) as Record<string, unknown>;
  expect(body.__type).toBe(type);
  expect(body.message).not.toContain(sent);
}

const LIST_KEYS_OK = JSON.stringify({ Keys: [], Truncated: false });

describe('the request target under SigV4', () => {
  it('a query string the client signed verifies (the JS SDK signing one added by a middleware)', async () => {
    const client = server.client();
    client.middlewareStack.add((next) => async (args) => {
      (args.request as { query: Record<string, string | string[]> }).query = { 'b key': 'x*y', a: ['2', '1'], empty: '' };
      return next(args);
    }, { step: 'build', name: 'addQuery' });
    const answer = await client.send(new ListKeysCommand({}));
    expect(answer.$metadata.httpStatusCode).toBe(200);
  });

  it('a query string added after signing does not: InvalidSignatureException, the query not quoted back', async () => {
    const [answer] = await exchange([requestHead(server, 'ListKeys', '{}', { connection: 'close' }).replace('POST / ', 'POST /?Injected=QUERYMARK ') + '{}']);
    expectAwsError(answer, 400, 'InvalidSignatureException', 'QUERYMARK');
  });

  it('the absolute form (http://host/path) verifies over its path and query, as HTTP/1.1 servers must accept it', async () => {
    const absolute = `http://127.0.0.1:${server.port}`;
    for (const target of [`${absolute}/`, absolute]) {
      const [answer] = await exchange([requestHead(server, 'ListKeys', '{}', { connection: 'close' }).replace('POST / ', `POST ${target} `) + '{}']);
      expect({ status: answer?.status, body: answer?.body }, target).toEqual({ status: 200, body: LIST_KEYS_OK });
    }
  });
});

describe('requests refused before the API sees them', () => {
  it('a target that is no URL (*) or a Host that is no host: 400 in the AWS shape, and the connection keeps serving', async () => {
    const follow = requestHead(server, 'ListKeys', '{}', { connection: 'close' }) + '{}';
    const star = await exchange([requestHead(server, 'ListKeys', '{}').replace('POST / ', 'POST * ') + '{}' + follow]);
    expectAwsError(star[0], 400, 'SerializationException', '*');
    expect(star[1]?.status).toBe(200);
    const badHost = await exchange([requestHead(server, 'ListKeys', '{}', { host: 'HOSTMARK with spaces' }) + '{}' + follow]);
    expectAwsError(badHost[0], 400, 'SerializationException', 'HOSTMARK');
    expect(badHost[1]?.status).toBe(200);
  });

  it('an Expect other than 100-continue: 417 in the AWS shape, not quoted back', async () => {
    const [answer, ...rest] = await exchange([requestHead(server, 'ListKeys', '{}', { expect: 'EXPECTMARK' }) + '{}']);
    expectAwsError(answer, 417, 'ValidationException', 'EXPECTMARK');
    expect(rest).toEqual([]);
  });
});

describe('bodies and connections as proxies and SDKs send them', () => {
  it('a chunked body signed whole, Expect: 100-continue answered before the body, pipelined answers in order', async () => {
    const body = '{"Limit":5}';
    const chunked = requestHead(server, 'ListKeys', body, { 'transfer-encoding': 'chunked' }).replace(/content-length: \d+\r\n/, '');
    const pieces = [chunked, `4\r\n${body.slice(0, 4)}\r\n`, `${(body.length - 4).toString(16)}\r\n${body.slice(4)}\r\n0\r\n\r\n`];
    const continued = requestHead(server, 'ListKeys', '{}', { expect: '100-continue' });
    const connection = await openConnection(server.port);
    for (const piece of pieces) {
      connection.socket.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    connection.socket.write(continued);
    // The server must not wait for a body the client holds back until it hears 100 Continue.
    const deadline = Date.now() + 2_000;
    while (!connection.received().includes('HTTP/1.1 100 Continue') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(connection.received()).toContain('HTTP/1.1 100 Continue');
    // Then three pipelined requests: a failing one between two that succeed.
    connection.socket.write('{}' + requestHead(server, 'NoSuchOperation', '{}') + '{}'
      + requestHead(server, 'ListKeys', '{}', { connection: 'close' }) + '{}');
    const answers = splitResponses(await connection.closed(5_000));
    expect(answers.map((answer) => answer.status)).toEqual([200, 100, 200, 400, 200]);
    expect(new Set(answers.filter((a) => a.status !== 100).map((a) => a.headers['x-amzn-requestid'])).size).toBe(4);
    expect(JSON.parse(answers[3]!.body)).toMatchObject({ __type: 'UnknownOperationException' });
  });
});
