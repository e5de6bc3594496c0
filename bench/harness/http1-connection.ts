// The paced loader's HTTP/1.1 client: one keep-alive connection per instance, one request in flight on it at a
// time, requests written as bytes serialized once (a pre-signed request is sent hundreds of times) and
// responses read by a small incremental parser (Content-Length or chunked bodies, or a body that ends with the
// connection).
//
// Why not node:http: a request through http.request builds a ClientRequest, an IncomingMessage and the agent's
// bookkeeping, about twice the generator CPU per request of these writes and reads. The generator shares the
// machine's cores with the servers it measures, so its CPU and the stalls of its own event loop land in every
// latency it records. Side by side at 5,400 req/s against the reference server, warm: http.request 0.52-0.54
// generator CPU-s per second and p99 2.9-3.5 ms, this client 0.23-0.27 and p99 1.4-1.6 ms (bench/README.md).
import net from 'node:net';
import tls from 'node:tls';
import type { WireRequest } from './signer.js';

export interface Http1Response {
  status: number;
  body: string;
  /** False when the server closes the connection after this response (Connection: close, HTTP/1.0). */
  keepAlive: boolean;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** A response head longer than this is not a KMS answer: the connection is given up. */
const MAX_HEAD_BYTES = 64 * 1024;

/** The request as bytes on the wire: request line, the signed headers (plus Content-Length), body. */
export function serializeRequest(wire: WireRequest): Buffer {
  const body = Buffer.from(wire.body, 'utf8');
  let head = `${wire.method} ${wire.path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(wire.headers)) {
    if (name.toLowerCase() !== 'content-length') head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

interface Head {
  status: number;
  /** Bytes of the status line and headers, with the blank line. */
  length: number;
  contentLength?: number;
  chunked: boolean;
  keepAlive: boolean;
}

export class Http1ProtocolError extends Error {}

function parseHead(bytes: Buffer, end: number): Head {
  const lines = bytes.toString('latin1', 0, end).split('\r\n');
  const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
  if (!statusLine) throw new Http1ProtocolError('not an HTTP/1.x response');
  const head: Head = { status: Number(statusLine[2]), length: end + HEADER_END.length, chunked: false,
    keepAlive: statusLine[1] === '1' };
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Http1ProtocolError('malformed response header');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === 'content-length') {
      if (!/^\d+$/.test(value)) throw new Http1ProtocolError('malformed Content-Length');
      head.contentLength = Number(value);
    } else if (name === 'transfer-encoding') head.chunked = value.split(',').some((coding) => coding.trim() === 'chunked');
    else if (name === 'connection') {
      const options = value.split(',').map((option) => option.trim());
      if (options.includes('close')) head.keepAlive = false;
      else if (options.includes('keep-alive')) head.keepAlive = true;
    }
  }
  return head;
}

/** A chunked body starting at `from`: its bytes and where it ends, or undefined while incomplete. */
function readChunked(bytes: Buffer, from: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const lineEnd = bytes.indexOf(CRLF, at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(bytes.toString('latin1', at, lineEnd).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new Http1ProtocolError('malformed chunk size');
    at = lineEnd + CRLF.length;
    if (size === 0) {
      // Trailers, if any, end with a blank line.
      const trailersEnd = bytes.indexOf(CRLF, at) === at ? at : bytes.indexOf(HEADER_END, at);
      if (trailersEnd < 0) return undefined;
      return { body: Buffer.concat(parts), end: trailersEnd === at ? at + CRLF.length : trailersEnd + HEADER_END.length };
    }
    if (bytes.length < at + size + CRLF.length) return undefined;
    parts.push(bytes.subarray(at, at + size));
    at += size + CRLF.length;
  }
}

/** Turns the bytes a connection receives into responses, however the stream splits them. */
export class ResponseReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** Every response completed by this chunk, in order. */
  push(chunk: Buffer): Http1Response[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const responses: Http1Response[] = [];
    for (;;) {
      const response = this.next();
      if (response === undefined) return responses;
      responses.push(response);
    }
  }

  /** The connection ended: a response whose body runs to the end of the stream completes here. */
  end(): Http1Response | undefined {
    const headEnd = this.buffered.indexOf(HEADER_END);
    if (headEnd < 0) return undefined;
    const head = parseHead(this.buffered, headEnd);
    if (head.chunked || head.contentLength !== undefined) return undefined; // cut short
    const body = this.buffered.toString('utf8', head.length);
    this.buffered = Buffer.alloc(0);
    return { status: head.status, body, keepAlive: false };
  }

  private next(): Http1Response | undefined {
    const bytes = this.buffered;
    const headEnd = bytes.indexOf(HEADER_END);
    if (headEnd < 0) {
      if (bytes.length > MAX_HEAD_BYTES) throw new Http1ProtocolError('response head too long');
      return undefined;
    }
    const head = parseHead(bytes, headEnd);
    let body: Buffer;
    let end: number;
    if (head.status < 200 || head.status === 204 || head.status === 304) {
      // 1xx answers precede the real one; 204 and 304 carry no body.
      body = Buffer.alloc(0);
      end = head.length;
    } else if (head.chunked) {
      const chunked = readChunked(bytes, head.length);
      if (chunked === undefined) return undefined;
      ({ body, end } = chunked);
    } else if (head.contentLength !== undefined) {
      end = head.length + head.contentLength;
      if (bytes.length < end) return undefined;
      body = bytes.subarray(head.length, end);
    } else {
      return undefined; // delimited by the end of the connection: end() completes it
    }
    this.buffered = end === bytes.length ? Buffer.alloc(0) : bytes.subarray(end);
    if (head.status < 200) return this.next();
    return { status: head.status, body: body.toString('utf8'), keepAlive: head.keepAlive };
  }
}

type Settle = (error: Error | undefined, response?: Http1Response) => void;

/** One keep-alive connection carrying one request at a time. */
export class Http1Connection {
  private readonly reader = new ResponseReader();
  private pending: Settle | undefined;
  private closed = false;
  private socketError: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      const last = this.safely(() => this.reader.end());
      if (last) this.settle(undefined, last);
    });
    // 'close' follows an error and settles the request in flight with it, so a reset (KMS_FAULTS=reset) is
    // counted as ECONNRESET, as the closed loop counts it, not as an orderly close.
    socket.on('error', (error) => { this.socketError ??= error; });
    socket.on('close', () => {
      this.closed = true;
      this.settle(this.socketError ?? new Error('connection closed before the response'));
    });
  }

  /** Connects to the endpoint's host and port (TLS for https:), resolving once the connection is ready. */
  static open(endpoint: URL, timeoutMs: number): Promise<Http1Connection> {
    const secure = endpoint.protocol === 'https:';
    const host = endpoint.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(endpoint.port || (secure ? 443 : 80));
    return new Promise((resolve, reject) => {
      const socket = secure
        ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}) })
        : net.connect({ host, port });
      socket.setTimeout(timeoutMs, () => socket.destroy(new Error('connect timed out')));
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        socket.setTimeout(0);
        socket.removeListener('error', reject);
        resolve(new Http1Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Writes one request; `settle` gets its response, or the error that ended the connection first. */
  send(request: Buffer, settle: Settle): void {
    if (this.pending !== undefined) throw new Error('a request is already in flight on this connection');
    if (this.closed) {
      settle(new Error('connection closed'));
      return;
    }
    this.pending = settle;
    this.socket.write(request);
  }

  /** Drops the connection; a request in flight settles with `reason`. */
  destroy(reason?: Error): void {
    // Closed first: whoever the request in flight settles to must not be handed this connection again.
    this.closed = true;
    this.socket.destroy();
    if (reason) this.settle(reason);
  }

  private receive(chunk: Buffer): void {
    const responses = this.safely(() => this.reader.push(chunk)) ?? [];
    for (const response of responses) {
      if (this.pending === undefined) {
        this.destroy(); // an answer nobody asked for: the stream can no longer be trusted
        return;
      }
      if (!response.keepAlive) this.destroy();
      this.settle(undefined, response);
    }
  }

  /** Runs a parser step; a protocol error ends the connection (and fails the request in flight). */
  private safely<T>(step: () => T): T | undefined {
    try {
      return step();
    } catch (error) {
      this.destroy(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  }

  private settle(error: Error | undefined, response?: Http1Response): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    pending(error, response);
  }
}
