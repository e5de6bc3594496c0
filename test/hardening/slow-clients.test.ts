// Slow, stalled, partial and oversized requests at the transport: every one ends with an AWS-shaped JSON 4xx
// (or a closed connection when there is nobody left to answer) within the configured deadlines, and the server
// keeps serving. Deadlines are shortened through KMS_HEADERS_TIMEOUT_MS / KMS_REQUEST_TIMEOUT_MS so the tests
// stay quick; KMS_MAX_CONNECTIONS caps open connections.
import { request as httpRequest } from 'node:http';
import { EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { call, openConnection, parseRawResponse, post, requestHead, signedHeaders, splitResponses } from './raw-client.js';

const MAX_CONNECTIONS = 20;
const MAX_BODY = 65_536;
/** Generous: the deadlines are 1 s and 2 s, checked every second. */
const CLOSE_BOUND_MS = 10_000;

let server: TestServer;
let keyId: string;

beforeAll(async () => {
  server = await startServer({
    env: {
      KMS_HEADERS_TIMEOUT_MS: '1000', KMS_REQUEST_TIMEOUT_MS: '2000',
      KMS_MAX_CONNECTIONS: String(MAX_CONNECTIONS), KMS_MAX_BODY_BYTES: String(MAX_BODY),
    },
  });
  keyId = ((await call(server, 'CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId;
});
afterAll(async () => {
  // No request made the HTTP layer fail: aborted bodies and cut connections are not internal errors.
  expect(server.output()).not.toMatch(/unhandled error|internal error/);
  await server?.remove();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function expectAwsError(raw: string, status: number, type: string): void {
  const { status: got, body } = parseRawResponse(raw);
  expect(got, raw.slice(0, 300)).toBe(status);
  const json = JSON.parse(body) as Record<string, unknown>;
  expect(Object.keys(json).sort()).toEqual(['__type', 'message']);
  expect(json.__type).toBe(type);
}

async function stillServes(): Promise<void> {
  const out = await call(server, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.from('still here').toString('base64') });
  expect(typeof out.CiphertextBlob).toBe('string');
}

describe('deadlines', () => {
  it('headers that never finish: 408 RequestTimeoutException, connection closed', async () => {
    const connection = await openConnection(server.port);
    connection.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: TrentService.ListKeys\r\n');
    expectAwsError(await connection.closed(CLOSE_BOUND_MS), 408, 'RequestTimeoutException');
  });

  it('headers trickled a byte at a time past the deadline are cut the same way', async () => {
    const connection = await openConnection(server.port);
    const head = requestHead(server, 'ListKeys', '{}');
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < head.length && !connection.socket.destroyed) connection.socket.write(head[sent++]!);
    }, 50);
    try {
      expectAwsError(await connection.closed(CLOSE_BOUND_MS), 408, 'RequestTimeoutException');
    } finally {
      clearInterval(trickle);
    }
    expect(sent).toBeLessThan(head.length);
  });

  it('headers with no body behind them (Content-Length promised, nothing sent): 408', async () => {
    const body = JSON.stringify({ KeyId: keyId });
    const connection = await openConnection(server.port);
    connection.socket.write(requestHead(server, 'DescribeKey', body));
    expectAwsError(await connection.closed(CLOSE_BOUND_MS), 408, 'RequestTimeoutException');
  });

  it('a body that stops halfway: 408, and a body trickled slower than the deadline: 408', async () => {
    const body = JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(1000, 7).toString('base64') });
    const half = await openConnection(server.port);
    half.socket.write(requestHead(server, 'Encrypt', body) + body.slice(0, body.length / 2));
    const slow = await openConnection(server.port);
    slow.socket.write(requestHead(server, 'Encrypt', body));
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < body.length && !slow.socket.destroyed) slow.socket.write(body.slice(sent, sent += 10));
    }, 100);
    try {
      expectAwsError(await half.closed(CLOSE_BOUND_MS), 408, 'RequestTimeoutException');
      expectAwsError(await slow.closed(CLOSE_BOUND_MS), 408, 'RequestTimeoutException');
    } finally {
      clearInterval(trickle);
    }
    await stillServes();
  });

  it('a client that hangs up mid-body leaves nothing behind', async () => {
    const body = JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(3000, 1).toString('base64') });
    for (let i = 0; i < 10; i++) {
      const connection = await openConnection(server.port);
      connection.socket.write(requestHead(server, 'Encrypt', body) + body.slice(0, 100 + i * 100));
      await sleep(20);
      connection.socket.destroy();
    }
    await stillServes();
  });
});

describe('size and shape limits', () => {
  it('a declared Content-Length over KMS_MAX_BODY_BYTES: 413 RequestEntityTooLargeException before the body is read', async () => {
    const connection = await openConnection(server.port);
    connection.socket.write(requestHead(server, 'Encrypt', '{}', { 'content-length': String(MAX_BODY + 1) }));
    expectAwsError(await connection.closed(CLOSE_BOUND_MS), 413, 'RequestEntityTooLargeException');
  });

  it('a chunked body that grows past the limit: 413', async () => {
    const oversized = `{"KeyId":"${keyId}","Plaintext":"${'A'.repeat(MAX_BODY)}"}`;
    const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers = { ...signedHeaders(server, 'Encrypt', oversized), 'transfer-encoding': 'chunked' };
      const req = httpRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/', headers, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      for (let i = 0; i < oversized.length; i += 8192) req.write(oversized.slice(i, i + 8192));
      req.end();
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.text)).toMatchObject({ __type: 'RequestEntityTooLargeException' });
  });

  it('an oversized body still being sent when refused: every SDK call gets its 413, none a reset or a broken pipe', async () => {
    // Answered before the body is in, the connection then closed: a plain close while the client still sends
    // resets the connection, and the SDK saw EPIPE or ECONNRESET instead of the answer (one call in thirty).
    const client = server.client();
    const seen: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const error = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(1024 * 1024) })).then(
        () => undefined, (e: { name: string; code?: string }) => e);
      const outcome = error === undefined ? 'succeeded' : `${error.name}${error.code === undefined ? '' : ` (${error.code})`}`;
      seen[outcome] = (seen[outcome] ?? 0) + 1;
    }
    expect(seen).toEqual({ RequestEntityTooLargeException: 200 });
    await stillServes();
  });

  it('a request pipelined behind a refused body is not carried out (its answer could not be sent)', async () => {
    const keysBefore = ((await call(server, 'ListKeys', { Limit: 1000 })).Keys as unknown[]).length;
    const oversized = `{"KeyId":"${keyId}","Plaintext":"${'A'.repeat(MAX_BODY)}"}`;
    const connection = await openConnection(server.port);
    connection.socket.write(requestHead(server, 'Encrypt', oversized) + oversized + requestHead(server, 'CreateKey', '{}') + '{}');
    const answers = splitResponses(await connection.closed(CLOSE_BOUND_MS));
    expect(answers.map((answer) => answer.status)).toEqual([413]);
    // The FIN comes with the answer, before the pipelined request would have been read: give it time to run.
    await sleep(500);
    expect(((await call(server, 'ListKeys', { Limit: 1000 })).Keys as unknown[]).length).toBe(keysBefore);
  });

  it('HTTP that does not parse: 400 SerializationException', async () => {
    for (const garbage of ['BREW / HTCPCP/1.0\r\n\r\n', 'POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n', '\x00\x01\x02\x03\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n']) {
      const connection = await openConnection(server.port);
      connection.socket.write(garbage);
      expectAwsError(await connection.closed(CLOSE_BOUND_MS), 400, 'SerializationException');
    }
  });

  it('headers larger than Node allows: 431 in the AWS shape', async () => {
    const connection = await openConnection(server.port);
    connection.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(20_000)}\r\n\r\n`);
    expectAwsError(await connection.closed(CLOSE_BOUND_MS), 431, 'ValidationException');
  });

  it('counts each of these refusals in /metrics by its code (they never reach an operation)', async () => {
    const refused = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Object.fromEntries([...text.matchAll(/^kms_http_refused_requests_total\{outcome="(\w+)"\} (\S+)$/gm)].map((m) => [m[1], Number(m[2])]));
    };
    const before = await refused();
    const stalled = await openConnection(server.port);
    stalled.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expectAwsError(await stalled.closed(CLOSE_BOUND_MS), 408, 'RequestTimeoutException');
    for (const garbage of ['BREW / HTCPCP/1.0\r\n\r\n', 'POST / HTTP/1.1\r\n\r\n' /* no Host */]) {
      const connection = await openConnection(server.port);
      connection.socket.write(garbage);
      expectAwsError(await connection.closed(CLOSE_BOUND_MS), 400, 'SerializationException');
    }
    const oversized = await openConnection(server.port);
    oversized.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(20_000)}\r\n\r\n`);
    expectAwsError(await oversized.closed(CLOSE_BOUND_MS), 431, 'ValidationException');
    const after = await refused();
    const added = Object.fromEntries(Object.entries(after).map(([code, count]) => [code, count - (before[code] ?? 0)]));
    expect(added).toEqual({ RequestTimeoutException: 1, SerializationException: 2, ValidationException: 1, KMSInternalException: 0 });
  });
});

describe('KMS_MAX_CONNECTIONS', () => {
  it('refuses connections past the cap and serves again once some close', async () => {
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => openConnection(server.port)));
    const extra = await openConnection(server.port).catch(() => undefined);
    if (extra !== undefined) {
      // Accepted by the kernel, dropped by the server at once: a request on it gets no answer.
      extra.socket.write(requestHead(server, 'ListKeys', '{}') + '{}');
      const received = await extra.closed(CLOSE_BOUND_MS).catch(() => 'still open');
      expect(received).toBe('');
    }
    for (const connection of held) connection.socket.destroy();
    await sleep(100);
    const response = await post(server, 'ListKeys', '{}');
    expect(response.status).toBe(200);
  });
});
