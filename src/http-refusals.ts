// Requests refused at the HTTP layer, before the app sees them: HTTP that does not parse, deadlines missed,
// oversized headers, a missing Host, CONNECT, an unmet Expect, a target @hono/node-server cannot make a URL of.
// Node answers most of these with a bare status line (or not at all); clients expect the AWS error shape
// ({"__type","message"}, application/x-amz-json-1.1, x-amzn-RequestId). Nothing of the request is quoted back.
import { RequestError } from '@hono/node-server';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';

const errorBody = (type: string, message: string): string => JSON.stringify({ __type: type, message });

const awsErrorHeaders = (body: string) => ({
  'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), 'content-length': String(Buffer.byteLength(body)),
});

/** A whole error response, for a socket that no ServerResponse writes to; the connection closes after it. */
function rawErrorResponse(status: number, reason: string, type: string, message: string): string {
  const body = errorBody(type, message);
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/x-amz-json-1.1\r\n`
    + `x-amzn-requestid: ${randomUUID()}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/**
 * Told the AWS error code of each request refused here (kms_http_refused_requests_total): they never reach the
 * pipeline, so without it a slow-client flood or a proxy mangling requests left no trace in /metrics.
 */
export type OnRefused = (code: HttpRefusalCode) => void;

/** The codes a refusal at the HTTP layer answers with. */
export const HTTP_REFUSAL_CODES = [
  'RequestTimeoutException', 'SerializationException', 'ValidationException', 'KMSInternalException',
] as const;
export type HttpRefusalCode = typeof HTTP_REFUSAL_CODES[number];

/** Installs the AWS-shaped answers on a server created with `requireHostHeader: false` (see requiringHost). */
export function answerRefusalsInAwsShape(server: Server, onRefused: OnRefused): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket, onRefused));
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    onRefused('ValidationException');
    answerExpectationFailed(request, response);
  });
  server.on('connect', answerConnect);
}

/**
 * A request target @hono/node-server cannot make a URL of (`*`, a Host header that is not a host): 400 in the
 * AWS shape, where it would answer a bare 400 without a request id. Anything else that escapes the app: 500.
 */
export const answerRequestError = (onRefused: OnRefused) => (error: unknown): Response => {
  const [status, type, message] = error instanceof RequestError
    ? [400, 'SerializationException' as const, 'The request target or Host header is not valid.']
    : [500, 'KMSInternalException' as const, 'The request failed because of an internal error.'];
  onRefused(type);
  const body = errorBody(type, message);
  return new Response(body, { status, headers: awsErrorHeaders(body) });
};

/**
 * HTTP/1.1 requires a Host header (RFC 9112 section 3.2: answer 400 without one). Node's own check answers a
 * bare 400, so the server turns it off (`requireHostHeader: false`) and this makes the same refusal in the AWS
 * shape. HTTP/1.0 requests, which need no Host, go on to the app (and SigV4, which signs the Host they lack).
 */
export function requiringHost(listener: RequestListener, onRefused: OnRefused): RequestListener {
  return (request, response) => {
    if (request.headers.host !== undefined || request.httpVersion !== '1.1') {
      listener(request, response);
      return;
    }
    onRefused('SerializationException');
    const body = errorBody('SerializationException', 'HTTP/1.1 requests must carry a Host header.');
    response.writeHead(400, { ...awsErrorHeaders(body), connection: 'close' }).end(body);
  };
}

/**
 * An Expect header other than 100-continue (which Node answers with 100 Continue itself): 417 in the AWS shape,
 * where Node would answer a bare 417. The expectation is not quoted back.
 */
function answerExpectationFailed(_request: IncomingMessage, response: ServerResponse): void {
  const body = errorBody('ValidationException', 'The Expect header names an expectation this server cannot meet.');
  response.writeHead(417, { ...awsErrorHeaders(body), connection: 'close' }).end(body);
}

/**
 * CONNECT (a client that takes the server for a proxy): the same 404 as any other method or path the server does
 * not serve, where Node would drop the connection without a word, after the answers of requests pipelined
 * before it. The connection is not tunnelled anywhere.
 */
function answerConnect(_request: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => {}); // a client that has gone already: nothing to tell
  afterCompleteRequestsAnswered(socket, () => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(404, 'Not Found', 'UnknownOperationException',
      'Only POST / (the KMS API), GET /healthz and GET /metrics are served.'), () => socket.destroy());
  });
}

/** A connection whose transport failure is being answered: Node may report more errors on it meanwhile. */
const answering = new WeakSet<Duplex>();

type InFlightResponse = ServerResponse & { req?: IncomingMessage };

/**
 * Transport-level failures (HTTP that does not parse, headers or body not received in time) answered in the
 * AWS error shape instead of Node's bare status line, then the connection is closed.
 *
 * The failure can come behind complete requests on the same keep-alive connection (pipelined, or bytes past a
 * Content-Length): their answers are written first, in order, so a client whose CreateKey succeeded is not told
 * it failed. An answer already begun for the request the failure is in cannot be followed by another: cut.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, onRefused: OnRefused): void {
  if (answering.has(socket)) return;
  answering.add(socket);
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, reason, type, message] = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? [408, 'Request Timeout', 'RequestTimeoutException' as const, 'The request was not received in time.']
    : error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'ValidationException' as const, 'The request headers are too large.']
      : [400, 'Bad Request', 'SerializationException' as const, 'The request is not valid HTTP/1.1.'];
  onRefused(type);
  afterCompleteRequestsAnswered(socket, () => {
    const inFlight = (socket as Duplex & { _httpMessage?: InFlightResponse | null })._httpMessage;
    if (!socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(status, reason, type, message), () => socket.destroy());
  });
}

/**
 * Runs `then` once every request on the connection that was received whole has been answered. Node hands the
 * socket to the pipelined responses one at a time (`_httpMessage`): its own 'finish' listener, which runs before
 * any added later, moves the socket on to the next one, so the response found there has not finished yet, even
 * when all its bytes are written. The first whose request is still incomplete is the one the failure belongs to.
 */
function afterCompleteRequestsAnswered(socket: Duplex, then: () => void): void {
  const inFlight = (socket as Duplex & { _httpMessage?: InFlightResponse | null })._httpMessage;
  if (inFlight === undefined || inFlight === null || inFlight.req?.complete !== true) {
    then();
    return;
  }
  // A response that never finishes (the client hung up) closes instead; the socket is gone then, nothing to answer.
  inFlight.once('finish', () => afterCompleteRequestsAnswered(socket, then));
}
