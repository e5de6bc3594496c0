// The Hono front end: transport only. POST / hands the raw request to the KMS pipeline; GET /healthz and
// GET /metrics answer operators. KMS concerns (auth, quotas, audit) are plain calls in pipeline.ts, not
// middleware, so a request pays for no compose frames it does not need.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomUUID } from 'node:crypto';
import { handleKms, type Pipeline } from './pipeline.js';

const JSON_TYPE = 'application/x-amz-json-1.1';

interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

export function createApp(pipeline: Pipeline, maxBodyBytes: number, isReady: () => boolean): Hono<{ Bindings: NodeBindings }> {
  const app = new Hono<{ Bindings: NodeBindings }>();

  app.get('/healthz', (c) => (isReady() ? c.json({ status: 'ok' }) : c.json({ status: 'starting' }, 503)));

  app.get('/metrics', async (c) => {
    const { contentType, body } = await pipeline.metrics.render();
    return c.body(body, 200, { 'content-type': contentType });
  });

  app.post('/*', bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) => c.body(JSON.stringify({ __type: 'RequestEntityTooLargeException', message: 'Request body is too large.' }),
      413, { 'content-type': JSON_TYPE, 'x-amzn-requestid': randomUUID() }),
  }), async (c) => {
    const body = Buffer.from(await c.req.arrayBuffer());
    const headers = c.req.raw.headers;
    const response = await handleKms(pipeline, {
      method: 'POST',
      path: new URL(c.req.url).pathname,
      header: (name) => headers.get(name) ?? undefined,
      body,
      sourceIp: c.env?.incoming?.socket.remoteAddress ?? '127.0.0.1',
    });
    if (response.reset) {
      c.env.incoming.socket.destroy();
      return c.body(null, 500);
    }
    return c.body(response.body, response.status as 200, { 'content-type': JSON_TYPE, 'x-amzn-requestid': response.requestId });
  });

  app.notFound((c) => c.json({ __type: 'UnknownOperationException', message: '' }, 404));
  app.onError((error, c) => {
    console.error(`kms-engine: unhandled error in HTTP layer: ${error.name}`, error.stack?.split('\n').slice(1, 4).join(' | '));
    return c.body(JSON.stringify({ __type: 'KMSInternalException', message: 'The request failed because of an internal error.' }),
      500, { 'content-type': JSON_TYPE, 'x-amzn-requestid': randomUUID() });
  });
  return app;
}
