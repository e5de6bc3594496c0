// The paced loader's HTTP/1.1 client (bench/harness/http1-connection.ts): the request bytes it writes, the
// response reader against every framing a server may use however the stream splits it, and a connection over
// real loopback sockets, including a server that hangs up mid-request.
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Http1Connection, Http1ProtocolError, ResponseReader, serializeRequest, type Http1Response,
} from '../../bench/harness/http1-connection.js';
import type { WireRequest } from '../../bench/harness/signer.js';

const WIRE: WireRequest = {
  method: 'POST', path: '/',
  headers: { 'content-type': 'application/x-amz-json-1.1', host: '127.0.0.1:4000', 'x-amz-target': 'TrentService.Encrypt' },
  body: '{"KeyId":"k","Plaintext":"é"}',
};

/** Feeds `text` to a fresh reader in pieces of `size` bytes; returns every response and the reader. */
function readInPieces(text: string, size: number): { responses: Http1Response[]; reader: ResponseReader } {
  const bytes = Buffer.from(text, 'latin1');
  const reader = new ResponseReader();
  const responses: Http1Response[] = [];
  for (let at = 0; at < bytes.length; at += size) responses.push(...reader.push(bytes.subarray(at, at + size)));
  return { responses, reader };
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 15\r\n\r\n{"Plaintext":1}';

describe('serializeRequest', () => {
  it('writes the request line, the signed headers and a Content-Length of the UTF-8 body', () => {
    const bytes = serializeRequest({ ...WIRE, headers: { ...WIRE.headers, 'Content-Length': '1' } });
    const body = Buffer.from(WIRE.body, 'utf8');
    expect(bytes.toString('latin1', 0, bytes.length - body.length)).toBe(
      'POST / HTTP/1.1\r\ncontent-type: application/x-amz-json-1.1\r\nhost: 127.0.0.1:4000\r\n' +
      `x-amz-target: TrentService.Encrypt\r\ncontent-length: ${body.length}\r\n\r\n`);
    expect(bytes.subarray(bytes.length - body.length).equals(body)).toBe(true);
  });
});

describe('ResponseReader', () => {
  it('completes a Content-Length response however the stream splits it', () => {
    for (const size of [1, 2, 7, 64, 4096]) {
      const { responses } = readInPieces(OK, size);
      expect(responses, `pieces of ${size}`).toEqual([{ status: 200, body: '{"Plaintext":1}', keepAlive: true }]);
    }
  });

  it('reads back-to-back responses from one chunk, and decodes bodies as UTF-8', () => {
    const error = '{"__type":"NotFoundException","message":"é"}';
    const second = `HTTP/1.1 400 Bad Request\r\ncontent-length: ${Buffer.byteLength(error)}\r\n\r\n`;
    const bytes = Buffer.concat([Buffer.from(OK + second, 'latin1'), Buffer.from(error, 'utf8')]);
    const responses = new ResponseReader().push(bytes);
    expect(responses.map((r) => [r.status, r.body])).toEqual([[200, '{"Plaintext":1}'], [400, error]]);
  });

  it('reads chunked bodies with extensions and trailers', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: yes\r\n\r\n' + OK;
    for (const size of [1, 3, 1000]) {
      const { responses } = readInPieces(text, size);
      expect(responses.map((r) => r.body), `pieces of ${size}`).toEqual(['hello, world', '{"Plaintext":1}']);
    }
    const { responses } = readInPieces('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 1);
    expect(responses).toEqual([{ status: 200, body: '', keepAlive: true }]);
  });

  it('skips 1xx answers, and reads no body after 204', () => {
    const { responses } = readInPieces(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n${OK}`, 5);
    expect(responses.map((r) => [r.status, r.body])).toEqual([[204, ''], [200, '{"Plaintext":1}']]);
  });

  it('knows when the server closes the connection after the response', () => {
    const close = 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}';
    expect(new ResponseReader().push(Buffer.from(close))[0]!.keepAlive).toBe(false);
    const http10 = 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}';
    expect(new ResponseReader().push(Buffer.from(http10))[0]!.keepAlive).toBe(false);
    const http10KeepAlive = 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}';
    expect(new ResponseReader().push(Buffer.from(http10KeepAlive))[0]!.keepAlive).toBe(true);
  });

  it('completes a body without length only when the connection ends, and never a cut-short one', () => {
    const { responses, reader } = readInPieces('HTTP/1.1 200 OK\r\n\r\n{"until":"close"}', 4);
    expect(responses).toEqual([]);
    expect(reader.end()).toEqual({ status: 200, body: '{"until":"close"}', keepAlive: false });
    const cut = readInPieces('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"a"', 4);
    expect(cut.responses).toEqual([]);
    expect(cut.reader.end()).toBeUndefined();
  });

  it('refuses what is not an HTTP/1.x response', () => {
    expect(() => new ResponseReader().push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).toThrow(Http1ProtocolError);
    expect(() => new ResponseReader().push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n')))
      .toThrow(Http1ProtocolError);
    expect(() => new ResponseReader().push(Buffer.alloc(70 * 1024, 0x41))).toThrow(Http1ProtocolError);
  });
});

describe('Http1Connection', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  const listen = async (created: Server): Promise<URL> => {
    server = created;
    await new Promise<void>((resolve) => created.listen(0, '127.0.0.1', resolve));
    return new URL(`http://127.0.0.1:${(created.address() as AddressInfo).port}`);
  };
  const send = (connection: Http1Connection, request: Buffer) =>
    new Promise<{ error?: Error; response?: Http1Response }>((resolve) =>
      connection.send(request, (error, response) => resolve({ error, response })));

  it('carries requests one after another on one keep-alive connection of a Node HTTP server', async () => {
    const seen: Array<{ body: string; socket: unknown }> = [];
    const endpoint = await listen(createHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => {
        seen.push({ body, socket: req.socket });
        // No Content-Length: Node answers chunked.
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.write('{"echo":');
        res.end(`${JSON.stringify(body)}}`);
      });
    }));
    const connection = await Http1Connection.open(endpoint, 1000);
    const request = serializeRequest(WIRE);
    const first = await send(connection, request);
    const second = await send(connection, request);
    expect(first).toEqual({ error: undefined, response: { status: 200, body: `{"echo":${JSON.stringify(WIRE.body)}}`, keepAlive: true } });
    expect(second.response?.status).toBe(200);
    expect(seen.map((s) => s.body)).toEqual([WIRE.body, WIRE.body]);
    expect(seen[0]!.socket).toBe(seen[1]!.socket);
    expect(() => { connection.send(request, () => {}); connection.send(request, () => {}); }).toThrow(/already in flight/);
    connection.destroy();
  });

  it('fails the request in flight when the server hangs up before answering', async () => {
    const endpoint = await listen(createNetServer((socket: Socket) => socket.once('data', () => socket.destroy())));
    const connection = await Http1Connection.open(endpoint, 1000);
    const { error, response } = await send(connection, serializeRequest(WIRE));
    expect(response).toBeUndefined();
    expect(error?.message).toBe('connection closed before the response');
    expect(connection.isOpen).toBe(false);
  });

  it('fails the request in flight with ECONNRESET when the server resets the connection (KMS_FAULTS=reset)', async () => {
    const endpoint = await listen(createNetServer((socket: Socket) => socket.once('data', () => socket.resetAndDestroy())));
    const connection = await Http1Connection.open(endpoint, 1000);
    const { error, response } = await send(connection, serializeRequest(WIRE));
    expect(response).toBeUndefined();
    expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
    expect(connection.isOpen).toBe(false);
  });

  it('fails the request in flight on a response it cannot parse, and gives the connection up', async () => {
    const endpoint = await listen(createNetServer((socket: Socket) => socket.once('data', () => socket.write('garbage\r\n\r\n'))));
    const connection = await Http1Connection.open(endpoint, 1000);
    const { error } = await send(connection, serializeRequest(WIRE));
    expect(error).toBeInstanceOf(Http1ProtocolError);
    expect(connection.isOpen).toBe(false);
  });

  it('refuses to open a connection nobody listens for', async () => {
    const endpoint = await listen(createNetServer());
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    await expect(Http1Connection.open(endpoint, 1000)).rejects.toThrow(/ECONNREFUSED/);
  });
});
