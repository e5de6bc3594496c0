// The Hono front end: transport only. POST / hands the raw request to the KMS pipeline, together with the
// other requests read in the same event-loop turn (turn-batch.ts); GET /healthz and
// GET /metrics answer operators. KMS concerns (auth, quotas, audit) are plain calls in pipeline.ts, not
// middleware, so a request pays for no compose frames it does not need.
//
// POST / reads headers and body straight from Node's IncomingMessage (c.env.incoming) instead of through a
// WHATWG Request: building the Request and its ReadableStream cost about an eighth of the main thread's time
// per small KMS call (measured with --cpu-prof), and SigV4 needs the raw bytes anyway.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Hono } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { TlsDetails } from './audit/record.js';
import { closeAfterLingering, isLingering } from './lingering-close.js';
import { handleKms, type Pipeline } from './pipeline.js';
import { KmsError } from './protocol/errors.js';
import { resetConnection } from './realism/reset-connection.js';
import { TurnBatch } from './turn-batch.js';

const JSON_TYPE = 'application/x-amz-json-1.1';

interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

const errorBody = (code: string, message: string): string => JSON.stringify({ __type: code, message });

class BodyTooLarge extends Error {}
/** The client went away (or was cut off at the request deadline) before its body arrived: nobody to answer. */
class BodyAborted extends Error {}

/** The request body, refused past maxBytes (by Content-Length up front, or while streaming). */
function readBody(incoming: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(incoming.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    // The first chunk as it came (most bodies arrive in one), then one buffer the later chunks are copied into as
    // they arrive. Kept as a list, a body chunked byte by byte held a Buffer object per byte until its end: two
    // such 900 KB bodies grew the server by some 750 MB.
    let body: Buffer | undefined;
    let copied = false;
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      const end = size + chunk.length;
      if (end > maxBytes) {
        incoming.removeAllListeners('data');
        incoming.resume();
        reject(new BodyTooLarge());
        return;
      }
      if (body === undefined) {
        body = chunk;
      } else {
        if (!copied || end > body.length) {
          const grown = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(end, 2 * body.length)));
          body.copy(grown, 0, 0, size);
          body = grown;
          copied = true;
        }
        chunk.copy(body, size);
      }
      size = end;
    });
    incoming.once('end', () => resolve(body === undefined ? Buffer.alloc(0) : copied ? body.subarray(0, size) : body));
    incoming.once('error', () => reject(new BodyAborted()));
    incoming.once('close', () => { if (!incoming.complete) reject(new BodyAborted()); });
  });
}

/**
 * The path and query string of a request target, as sent (SigV4 signs both). Clients send the origin form
 * (`/path?query`); the absolute form (`http://host/path?query`), which HTTP/1.1 servers must accept and
 * which @hono/node-server lets through, signs only its path and query, so the scheme and authority are dropped.
 */
function splitTarget(url: string): { path: string; query: string } {
  let pathStart = 0;
  if (url.charCodeAt(0) !== 0x2f) {
    const slash = url.indexOf('/', url.indexOf('://') + 3);
    const queryMark = url.indexOf('?');
    if (slash < 0 || (queryMark >= 0 && queryMark < slash)) return { path: '/', query: queryMark < 0 ? '' : url.slice(queryMark + 1) };
    pathStart = slash;
  }
  const queryAt = url.indexOf('?', pathStart);
  return queryAt < 0
    ? { path: pathStart === 0 ? url : url.slice(pathStart), query: '' }
    : { path: url.slice(pathStart, queryAt), query: url.slice(queryAt + 1) };
}

function headerLookup(incoming: IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const value = incoming.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
}

/** A connection's negotiated TLS version and cipher suite, read once per connection (they do not change on it). */
const tlsSessions = new WeakMap<Socket, { tlsVersion: string; cipherSuite: string }>();

/**
 * The audit record's tlsDetails for a request that came over HTTPS (kms-api.md section 10); undefined over plain
 * HTTP. The cipher suite by OpenSSL's name, as CloudTrail writes it (`ECDHE-RSA-AES128-GCM-SHA256`,
 * `TLS_AES_128_GCM_SHA256`), and the Host header as the client sent it.
 */
function tlsDetailsOf(incoming: IncomingMessage): TlsDetails | undefined {
  const socket = incoming.socket as Socket & Partial<TLSSocket>;
  if (socket.encrypted !== true) return undefined;
  let session = tlsSessions.get(socket);
  if (session === undefined) {
    session = { tlsVersion: socket.getProtocol?.() ?? '', cipherSuite: socket.getCipher?.().name ?? '' };
    tlsSessions.set(socket, session);
  }
  return { tlsVersion: session.tlsVersion, cipherSuite: session.cipherSuite, clientProvidedHostHeader: incoming.headers.host ?? '' };
}

/**
 * The caller's address as AWS gives it (the audit record's sourceIPAddress, aws:SourceIp): an IPv4 caller of a
 * dual-stack listener (HOST=::) shows on the socket as ::ffff:a.b.c.d, which CloudTrail writes, and an
 * investigation searches for, as a.b.c.d.
 */
const IPV4_MAPPED = /^::ffff:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i;
function callerAddress(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '127.0.0.1';
  return IPV4_MAPPED.test(remoteAddress) ? remoteAddress.slice(7) : remoteAddress;
}

/**
 * What GET /healthz answers: 'ok' (200), or why a load balancer should send this process nothing (503): it has
 * not started listening, it is draining for shutdown, or it cannot read the shared store it needs for keys.
 */
export type Health = 'ok' | 'starting' | 'draining' | 'store unreachable';

/** Before listening and while draining: answers tell clients to take their next request elsewhere. */
const isClosing = (health: Health): boolean => health === 'starting' || health === 'draining';

export function createApp(pipeline: Pipeline, maxBodyBytes: number, health: () => Health): Hono<{ Bindings: NodeBindings }> {
  const app = new Hono<{ Bindings: NodeBindings }>();
  const batch = new TurnBatch();

  app.get('/healthz', (c) => {
    const status = health();
    return c.json({ status }, status === 'ok' ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    let rendered: { contentType: string; body: string };
    try {
      rendered = await pipeline.metrics.render();
    } catch (error) {
      // A failed scrape (Prometheus' up = 0) rather than partial numbers it would read as counters reset.
      return c.text(`metrics unavailable: ${(error as Error).message}\n`, 503);
    }
    return c.body(rendered.body, 200, { 'content-type': rendered.contentType });
  });

  app.post('/*', async (c) => {
    const incoming = c.env.incoming;
    if (isLingering(incoming.socket)) {
      incoming.socket.destroy();
      return RESPONSE_ALREADY_SENT;
    }
    let body: Buffer;
    let refusal: KmsError | undefined;
    try {
      body = await readBody(incoming, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyAborted) return c.body(null, 400, { connection: 'close' });
      if (!(error instanceof BodyTooLarge)) throw error;
      // Refused unread, but a call all the same: the pipeline records it (who it claims to be, what it aimed at).
      // The rest of the body may still be on its way: the close after the answer waits for it (lingering-close.ts).
      closeAfterLingering(incoming.socket);
      body = Buffer.alloc(0);
      refusal = new KmsError('RequestEntityTooLargeException', 'Request body is too large.');
    }
    const { path, query } = splitTarget(incoming.url ?? '/');
    const request = {
      method: 'POST',
      path,
      query,
      header: headerLookup(incoming),
      body,
      sourceIp: callerAddress(incoming.socket.remoteAddress),
      tlsDetails: tlsDetailsOf(incoming),
      refusal,
    };
    // With the other requests of this turn, at its end (turn-batch.ts).
    const response = await batch.run(() => handleKms(pipeline, request));
    if (response.reset) {
      resetConnection(incoming.socket);
      return c.body(null, 500);
    }
    // Written straight to Node's response: one writeHead with a plain header object, no Response/Headers pair
    // for @hono/node-server to convert back (a few us per call on the hottest path).
    const headers: Record<string, string | number> = {
      'content-type': JSON_TYPE, 'x-amzn-requestid': response.requestId, 'content-length': Buffer.byteLength(response.body),
    };
    // While draining for shutdown, or after a body left unread: the client must not send another request on this connection.
    if (isClosing(health()) || refusal !== undefined) headers.connection = 'close';
    c.env.outgoing.writeHead(response.status, headers).end(response.body);
    return RESPONSE_ALREADY_SENT;
  });

  // Any other method or path: the same error shape as the API's, so SDKs and the CLI can read it.
  app.notFound((c) => c.body(errorBody('UnknownOperationException', 'Only POST / (the KMS API), GET /healthz and GET /metrics are served.'),
    404, { 'content-type': JSON_TYPE, 'x-amzn-requestid': randomUUID() }));
  app.onError((error, c) => {
    console.error(`kms-engine: unhandled error in HTTP layer: ${error.name}`, error.stack?.split('\n').slice(1, 4).join(' | '));
    return c.body(errorBody('KMSInternalException', 'The request failed because of an internal error.'), 500,
      { 'content-type': JSON_TYPE, 'x-amzn-requestid': randomUUID() });
  });
  return app;
}
