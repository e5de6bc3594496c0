// KMS_FAULTS on the wire, against a real server: injected errors carry AWS's status, __type and message, the JS
// SDK retries them as it retries AWS's, and `reset` ends the connection with a TCP reset (RST), over plain
// HTTP and over HTTPS, rather than an orderly close.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { Duplex } from 'node:stream';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import {
  DescribeKeyCommand, DisableKeyCommand, GenerateRandomCommand, ListAliasesCommand, ListKeyPoliciesCommand, ListKeysCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signKmsRequest } from '../../src/auth/sigv4.js';
import { sample, scrape } from '../e2e-quotas/flood.js';
import { startServer, type TestServer } from '../support/server.js';

const FAULTS = 'ThrottlingException=1@GenerateRandom;KMSInternalException=1@ListKeys;'
  + 'DependencyTimeoutException=1@ListAliases;KeyUnavailableException=1@DescribeKey;reset=1@ListKeyPolicies';

/** A signed ListKeyPolicies request as raw HTTP/1.1 text (the operation KMS_FAULTS resets). */
function resetRequest(server: TestServer): string {
  const body = '{"KeyId":"alias/none"}';
  const headers = signKmsRequest({
    host: `127.0.0.1:${server.port}`, target: 'TrentService.ListKeyPolicies', body,
    accessKeyId: server.credentials.accessKeyId, secretAccessKey: server.credentials.secretAccessKey, region: server.region,
  });
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return `POST / HTTP/1.1\r\n${lines}content-length: ${body.length}\r\n\r\n${body}`;
}

/**
 * How the server ended the TCP connection `raw` after `send` wrote the request: 'reset' (ECONNRESET), 'close'
 * (an orderly close without an HTTP answer; over TLS, the bytes read are ciphertext) or the answer's status line.
 */
function howItEnds(raw: Socket, send: () => void): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    raw.once('connect', send);
    raw.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
    raw.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNRESET' ? 'reset' : `error ${error.code}`));
    raw.once('end', () => resolve(received.startsWith('HTTP/') ? `answer ${received.split('\r\n')[0]}` : 'close'));
  });
}

/**
 * Over HTTPS: TLS runs over a stream of our own that relays `raw`, so the TCP socket's own events stay
 * visible. TLS 1.2, because a TLS 1.3 server sends its session tickets after the handshake, right before the
 * reset here, and a client write racing the reset takes its error from the kernel, leaving the read an end of
 * stream (seen under strace: the server does send the RST either way).
 */
function overTls(raw: Socket, request: string): () => void {
  const relay = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) { raw.write(chunk, callback); },
  });
  raw.on('data', (chunk: Buffer) => relay.push(chunk));
  raw.once('end', () => relay.push(null));
  raw.once('error', () => relay.destroy());
  return () => {
    const secure = tlsConnect({ socket: relay, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => secure.write(request));
    secure.on('error', () => {}); // the outcome is read from raw
  };
}

describe('KMS_FAULTS over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startServer({ env: { KMS_FAULTS: FAULTS } }); });
  afterAll(async () => { await server?.remove(); });

  it('answers each injected error with AWS status, __type and message, and audits it', async () => {
    const client = server.client();
    for (const [command, name, status, message] of [
      [new GenerateRandomCommand({ NumberOfBytes: 8 }), 'ThrottlingException', 400,
        'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.'],
      [new ListKeysCommand({}), 'KMSInternalException', 500,
        'The request was rejected because an internal exception occurred. The request can be retried.'],
      [new ListAliasesCommand({}), 'DependencyTimeoutException', 503,
        'The system timed out while trying to fulfill the request. You can retry the request.'],
      [new DescribeKeyCommand({ KeyId: 'alias/none' }), 'KeyUnavailableException', 500,
        'The request was rejected because the specified KMS key was not available. You can retry the request.'],
    ] as const) {
      const error = await client.send(command as never).then(() => undefined, (e: unknown) => e as Error & { $metadata: { httpStatusCode: number } });
      expect(error?.name, name).toBe(name);
      expect(error?.message).toBe(message);
      expect(error?.$metadata.httpStatusCode).toBe(status);
    }
    const audit = readFileSync(join(server.dataDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(audit.map((record) => [record.eventName, record.errorCode])).toEqual(expect.arrayContaining([
      ['GenerateRandom', 'ThrottlingException'], ['ListKeys', 'KMSInternalException'],
      ['ListAliases', 'DependencyTimeoutException'], ['DescribeKey', 'KeyUnavailableException'],
    ]));
  });

  it('is retried by the SDK as AWS errors are, 3 attempts: throttles after waits from 1 s, 5xx errors and resets from 50 ms', async () => {
    // The SDK's wait before retry n is Math.random() * base * 2^(n-1): pinned near 1, each wait is at its cap, so
    // the total shows which class the SDK put the error in (THROTTLING: 1,000 ms base; TRANSIENT: 50 ms).
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.999);
    try {
      const client = server.client({ maxAttempts: 3 });
      const failed = (command: unknown) => client.send(command as never).then(() => undefined,
        (e: unknown) => e as { name: string; code?: string; $metadata: { attempts: number; totalRetryDelay: number } });
      expect(await failed(new GenerateRandomCommand({ NumberOfBytes: 8 }))).toMatchObject({
        name: 'ThrottlingException', $metadata: { attempts: 3, totalRetryDelay: 999 + 1998 },
      });
      expect(await failed(new ListKeysCommand({}))).toMatchObject({
        name: 'KMSInternalException', $metadata: { attempts: 3, totalRetryDelay: 49 + 99 },
      });
      expect(await failed(new ListAliasesCommand({}))).toMatchObject({
        name: 'DependencyTimeoutException', $metadata: { attempts: 3, totalRetryDelay: 49 + 99 },
      });
      expect(await failed(new DescribeKeyCommand({ KeyId: 'alias/none' }))).toMatchObject({
        name: 'KeyUnavailableException', $metadata: { attempts: 3, totalRetryDelay: 49 + 99 },
      });
      // A real error of an operation no fault covers is not retried, as AWS's is not.
      expect(await failed(new DisableKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' }))).toMatchObject({
        name: 'NotFoundException', $metadata: { attempts: 1, totalRetryDelay: 0 },
      });
      // A reset is a socket error to the SDK: retried like a 5xx, and what the pipeline sees when all attempts hit one.
      expect(await failed(new ListKeyPoliciesCommand({ KeyId: 'alias/none' }))).toMatchObject({
        name: 'TimeoutError', code: 'ECONNRESET', $metadata: { attempts: 3, totalRetryDelay: 49 + 99 },
      });
    } finally {
      random.mockRestore();
    }
  }, 20_000);

  it('sends no Retry-After with an injected error, as AWS KMS does not: the SDK waits its own back-off', async () => {
    for (const [target, body, fault] of [['GenerateRandom', '{"NumberOfBytes":8}', 'ThrottlingException'],
      ['ListKeys', '{}', 'KMSInternalException'], ['ListAliases', '{}', 'DependencyTimeoutException'],
      ['DescribeKey', '{"KeyId":"alias/none"}', 'KeyUnavailableException']] as const) {
      const headers = signKmsRequest({
        host: `127.0.0.1:${server.port}`, target: `TrentService.${target}`, body,
        accessKeyId: server.credentials.accessKeyId, secretAccessKey: server.credentials.secretAccessKey, region: server.region,
      });
      const response = await fetch(server.url, { method: 'POST', headers, body });
      expect(((await response.json()) as { __type: string }).__type, target).toBe(fault);
      expect(response.headers.get('retry-after'), target).toBeNull();
    }
  });

  it('resets the connection (RST) instead of closing it, and counts the request in its metrics as reset', async () => {
    const resets = async () => sample(await scrape(server), 'kms_request_duration_seconds_count',
      { operation: 'ListKeyPolicies', key_spec: '', outcome: 'reset' }) ?? 0;
    const before = await resets();
    const raw = tcpConnect(server.port, '127.0.0.1');
    expect(await howItEnds(raw, () => raw.write(resetRequest(server)))).toBe('reset');
    expect(await resets()).toBe(before + 1);
    // Never answered, so never an audit record: the log holds the calls that completed.
    expect(readFileSync(join(server.dataDir, 'audit.jsonl'), 'utf8')).not.toContain('"ListKeyPolicies"');
  });
});

describe('KMS_FAULTS reset over HTTPS', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kms-realism-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', 'server.key', '-out', 'server.pem', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    server = await startServer({
      env: { KMS_FAULTS: FAULTS, KMS_TLS_CERT: join(dir, 'server.pem'), KMS_TLS_KEY: join(dir, 'server.key') },
    });
  });
  afterAll(async () => {
    await server?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resets the TCP connection under TLS too', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const raw = tcpConnect(server.port, '127.0.0.1');
      expect(await howItEnds(raw, overTls(raw, resetRequest(server)))).toBe('reset');
    }
    // The TLS layer over the reset socket is torn down quietly: the server keeps serving.
    expect(server.process.exitCode).toBeNull();
  });
});
