// Signed KMS requests below the SDK, for the hardening tests: node:http (with a chosen agent, so tests can hold
// keep-alive connections) and node:net (for bodies that arrive slowly, partly, or never).
import { request as httpRequest, type Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { signKmsRequest } from '../../src/auth/sigv4.js';
import type { TestServer } from '../support/server.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: Record<string, unknown> | undefined;
}

const parseJson = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
};

/** SigV4 headers for `TrentService.<operation>` with this body, as the root principal. */
export function signedHeaders(server: TestServer, operation: string, body: string | Uint8Array): Record<string, string> {
  return signKmsRequest({
    host: `127.0.0.1:${server.port}`, target: `TrentService.${operation}`, body,
    accessKeyId: server.credentials.accessKeyId, secretAccessKey: server.credentials.secretAccessKey, region: server.region,
  });
}

/** One signed POST / over node:http; `body` is sent as given (JSON text or raw bytes). */
export function post(server: TestServer, operation: string, body: string | Uint8Array,
  options: { agent?: Agent; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const headers = { ...signedHeaders(server, operation, body), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/', headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parseJson(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Calls an operation with a JSON input and expects 200. */
export async function call(server: TestServer, operation: string, input: unknown, agent?: Agent): Promise<Record<string, unknown>> {
  const response = await post(server, operation, JSON.stringify(input), { agent });
  if (response.status !== 200 || response.json === undefined) {
    throw new Error(`${operation} answered ${response.status}: ${response.text.slice(0, 200)}`);
  }
  return response.json;
}

/** A raw TCP connection to the server, and what it has received so far. */
export interface RawConnection {
  socket: Socket;
  received(): string;
  /** Resolves with everything received once the server closes the connection (or rejects after `ms`). */
  closed(ms: number): Promise<string>;
}

export function openConnection(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    let ended = false;
    const waiters: Array<() => void> = [];
    const finish = () => {
      ended = true;
      for (const waiter of waiters.splice(0)) waiter();
    };
    socket.on('data', (chunk: Buffer) => { data += chunk.toString('latin1'); });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.once('connect', () => resolve({
      socket,
      received: () => data,
      closed: (ms) => new Promise((done, fail) => {
        if (ended) return done(data);
        const timer = setTimeout(() => fail(new Error(`connection still open after ${ms} ms; received: ${data.slice(0, 200)}`)), ms);
        waiters.push(() => { clearTimeout(timer); done(data); });
      }),
    }));
    socket.once('error', reject);
  });
}

/** The head of a signed request for a raw connection (no trailing body). */
export function requestHead(server: TestServer, operation: string, body: string | Uint8Array, extra: Record<string, string> = {}): string {
  const headers: Record<string, string> = { ...signedHeaders(server, operation, body), 'content-length': String(Buffer.byteLength(body)), ...extra };
  return `POST / HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`;
}

/** Status code and body of a raw HTTP/1.1 response text. */
export function parseRawResponse(raw: string): { status: number; body: string } {
  const match = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n/.exec(raw);
  const split = raw.indexOf('\r\n\r\n');
  return { status: match === null ? 0 : Number(match[1]), body: split < 0 ? '' : raw.slice(split + 4) };
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Every response in a raw byte stream, in order (content-length framed; a 100 Continue has no body). */
export function splitResponses(raw: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let at = 0;
  while (at < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const [statusLine, ...lines] = raw.slice(at, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? 0);
    answers.push({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1] ?? 0), headers, body: raw.slice(headEnd + 4, headEnd + 4 + length) });
    at = headEnd + 4 + length;
  }
  return answers;
}
