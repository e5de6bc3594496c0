// SigV4 on the wire, part by part (kms-api.md sections 1.3, 2.1 and 12): raw requests signed here with every
// piece chosen by the test (the stamp, the scope, the signed header list, the path), so each check the verifier
// makes is hit on its own, against the real server. protocol.test.ts covers the botocore-shaped happy paths.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amzDate, canonicalRequest, computeSignature, sha256Hex } from '../../src/auth/sigv4.js';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { awsCliEnv, awsKms } from '../support/aws-cli.js';
import { startServer, type TestServer } from '../support/server.js';
import { openConnection, parseRawResponse } from '../hardening/raw-client.js';

let server: TestServer;
let host: string;

beforeAll(async () => {
  server = await startServer();
  host = `127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.remove();
});

interface Signing {
  /** X-Amz-Date as sent and signed; default: now. */
  stamp?: string;
  /** The credential scope's date; default: the stamp's first 8 characters. */
  scopeDate?: string;
  region?: string;
  service?: string;
  /** SignedHeaders, in this order; default: every header sent, sorted. */
  signed?: string[];
  /** The path the signature covers; default: the path sent. */
  signedPath?: string;
  accessKeyId?: string;
  secret?: string;
}

/** Headers of a ListKeys (or `target`) request with an Authorization header made from `signing`. */
function signedHeaders(body: string, signing: Signing = {}, extra: Record<string, string> = {}, path = '/',
  target = 'TrentService.ListKeys'): Record<string, string> {
  const stamp = signing.stamp ?? amzDate(new Date());
  const headers: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.1', host, 'x-amz-date': stamp, 'x-amz-target': target, ...extra,
  };
  const names = signing.signed ?? Object.keys(headers).sort();
  const scopeDate = signing.scopeDate ?? stamp.slice(0, 8);
  const region = signing.region ?? 'us-east-1';
  const service = signing.service ?? 'kms';
  const canonical = canonicalRequest('POST', signing.signedPath ?? path, (name) => headers[name], names, sha256Hex(body));
  const signature = computeSignature(signing.secret ?? server.credentials.secretAccessKey, stamp, scopeDate, region, service, canonical);
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${signing.accessKeyId ?? server.credentials.accessKeyId}/${scopeDate}/`
    + `${region}/${service}/aws4_request, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

function post(headers: Record<string, string>, body = '{}', path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* asserted on text */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every refusal is AWS-shaped: 400, JSON content type, a request id, and nothing of the credentials echoed. */
function expectRefusal(answer: Answer, headers: Record<string, string>, type: string): void {
  expect({ status: answer.status, type: answer.json.__type }).toEqual({ status: 400, type });
  expect(typeof answer.json.message).toBe('string');
  expect(answer.headers['content-type']).toBe('application/x-amz-json-1.1');
  expect(answer.headers['x-amzn-requestid']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const signature = /Signature=([0-9a-fA-F]+)/.exec(headers.authorization ?? '')?.[1];
  if (signature !== undefined) expect(answer.text).not.toContain(signature);
  expect(answer.text).not.toContain(server.credentials.secretAccessKey);
}

const ok = async (headers: Record<string, string>, body = '{}', path = '/') => {
  const answer = await post(headers, body, path);
  expect(answer.status, answer.text).toBe(200);
  return answer;
};

describe('X-Amz-Date', () => {
  it('refuses a stamp that is not a real UTC time, even one that rolls over into the allowed window', async () => {
    const now = new Date();
    const today = amzDate(now);
    const yesterday = amzDate(new Date(now.getTime() - 86_400_000)).slice(0, 8);
    // Hour 24+h of yesterday is now, once Date.UTC rolls it over; its date part matches a scope of yesterday.
    const rolledOver = `${yesterday}T${String(Number(today.slice(9, 11)) + 24)}${today.slice(11, 15)}Z`;
    const impossible = [rolledOver, `${today.slice(0, 13)}60Z`, `${today.slice(0, 11)}60${today.slice(13)}`,
      `${today.slice(0, 4)}0230T120000Z`, `${today.slice(0, 4)}1301T120000Z`];
    for (const stamp of impossible) {
      const headers = signedHeaders('{}', { stamp });
      expectRefusal(await post(headers), headers, 'IncompleteSignatureException');
    }
    await ok(signedHeaders('{}', { stamp: today }));
  });

  it('refuses a missing or non-basic-format stamp, and a scope date other than the stamp\'s', async () => {
    const missing = signedHeaders('{}');
    delete missing['x-amz-date'];
    expectRefusal(await post(missing), missing, 'IncompleteSignatureException');
    const extended = signedHeaders('{}', { stamp: new Date().toISOString().replace(/\.\d{3}/, '') });
    expectRefusal(await post(extended), extended, 'IncompleteSignatureException');
    const otherScope = signedHeaders('{}', { scopeDate: '20200101' });
    const answer = await post(otherScope);
    expectRefusal(answer, otherScope, 'InvalidSignatureException');
    expect(answer.json.message).toBe('Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.');
  });

  it('allows 5 minutes of skew either way, and calls more "Signature expired" (what SDKs retry on) both ways', async () => {
    const at = (minutes: number) => amzDate(new Date(Date.now() + minutes * 60_000));
    await ok(signedHeaders('{}', { stamp: at(-4) }));
    await ok(signedHeaders('{}', { stamp: at(4) }));
    for (const [minutes, relation] of [[-6, 'earlier'], [6, 'later']] as const) {
      const headers = signedHeaders('{}', { stamp: at(minutes) });
      const answer = await post(headers);
      expectRefusal(answer, headers, 'InvalidSignatureException');
      expect(answer.json.message).toMatch(new RegExp(`^Signature expired: \\d{8}T\\d{6}Z is now ${relation} than \\d{8}T\\d{6}Z`));
    }
  });
});

describe('Authorization header and credential scope', () => {
  it('IncompleteSignatureException for every malformed variant, never echoing the signature', async () => {
    const variants: Record<string, (value: string) => string> = {
      'no Credential': (v) => v.replace(/Credential=[^,]+, /, ''),
      'no SignedHeaders': (v) => v.replace(/SignedHeaders=[^,]+, /, ''),
      'no Signature': (v) => v.replace(/, Signature=.*$/, ''),
      'another algorithm': (v) => v.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512'),
      'lowercase algorithm': (v) => v.replace('AWS4-HMAC-SHA256', 'aws4-hmac-sha256'),
      'bad scope terminator': (v) => v.replace('aws4_request', 'aws4_reques'),
      'six scope fields': (v) => v.replace('/kms/', '/kms/extra/'),
      'short signature': (v) => v.slice(0, -1),
      'Signature V2': () => `AWS ${server.credentials.accessKeyId}:c2lnbmF0dXJl`,
    };
    for (const [name, mutate] of Object.entries(variants)) {
      const headers = signedHeaders('{}');
      headers.authorization = mutate(headers.authorization!);
      const answer = await post(headers);
      expect(answer.json.__type, name).toBe('IncompleteSignatureException');
      expectRefusal(answer, headers, 'IncompleteSignatureException');
    }
  });

  it('answers without Authorization, including a presigned query string, MissingAuthenticationTokenException', async () => {
    const headers = signedHeaders('{}');
    const signature = /Signature=(\w+)/.exec(headers.authorization!)![1]!;
    delete headers.authorization;
    expectRefusal(await post(headers), headers, 'MissingAuthenticationTokenException');
    const query = `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${server.credentials.accessKeyId}%2F${headers['x-amz-date']!.slice(0, 8)}`
      + `%2Fus-east-1%2Fkms%2Faws4_request&X-Amz-Date=${headers['x-amz-date']}&X-Amz-SignedHeaders=host&X-Amz-Signature=${signature}`;
    const presigned = await post(headers, '{}', `/${query}`);
    expectRefusal(presigned, headers, 'MissingAuthenticationTokenException');
    expect(presigned.text).not.toContain(signature);
  });

  it('a service other than kms, an unknown key id and a wrong secret are refused as AWS refuses them', async () => {
    const iam = signedHeaders('{}', { service: 'iam' });
    const scoped = await post(iam);
    expectRefusal(scoped, iam, 'InvalidSignatureException');
    expect(scoped.json.message).toBe("Credential should be scoped to correct service: 'kms'.");
    const unknown = signedHeaders('{}', { accessKeyId: 'AKIAUNKNOWNKEY000000' });
    expectRefusal(await post(unknown), unknown, 'UnrecognizedClientException');
    const wrong = signedHeaders('{}', { secret: 'not-the-secret-of-this-key-id' });
    expectRefusal(await post(wrong), wrong, 'InvalidSignatureException');
  });

  it('a session token (X-Amz-Security-Token) is one this engine never issued: UnrecognizedClientException, as AWS refuses it', async () => {
    // A pipeline's CI exports AWS_SESSION_TOKEN for real AWS and overrides only the key pair for the engine:
    // AWS KMS refuses long-term keys sent with a token it does not know, and so must the engine.
    const invalid = 'The security token included in the request is invalid.';
    const withToken = signedHeaders('{}', {}, { 'x-amz-security-token': 'FwoGZXIvYXdzEXAMPLETOKEN' });
    const answer = await post(withToken);
    expectRefusal(answer, withToken, 'UnrecognizedClientException');
    expect(answer.json.message).toBe(invalid);
    expect(answer.text).not.toContain('FwoGZXIvYXdzEXAMPLETOKEN');
    const sdk = new KMSClient({ region: 'us-east-1', endpoint: server.url, credentials: { ...server.credentials, sessionToken: 'FwoGZXIvYXdz' }, maxAttempts: 1 });
    await expect(sdk.send(new ListKeysCommand({}))).rejects.toMatchObject({
      name: 'UnrecognizedClientException', message: invalid, $metadata: { httpStatusCode: 400 },
    });
    const cli = await awsKms(server, 'list-keys').then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(cli).toBeUndefined();
    const cliWithToken = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile('/usr/bin/aws', ['kms', 'list-keys', '--endpoint-url', server.url],
        { env: { ...awsCliEnv(server), AWS_SESSION_TOKEN: 'FwoGZXIvYXdz' } }, (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }));
    });
    expect(cliWithToken).toEqual({
      code: 254, stderr: `\nAn error occurred (UnrecognizedClientException) when calling the ListKeys operation: ${invalid}\n`,
    });
  });

  it('verifies with the region of the scope, whatever it is', async () => {
    await ok(signedHeaders('{}', { region: 'eu-west-1' }));
    await ok(signedHeaders('{}', { region: 'ap-southeast-2' }));
  });
});

describe('signed headers and the canonical request', () => {
  it('Host must be signed', async () => {
    const headers = signedHeaders('{}', { signed: ['content-type', 'x-amz-date', 'x-amz-target'] });
    const answer = await post(headers);
    expectRefusal(answer, headers, 'IncompleteSignatureException');
    expect(answer.json.message).toBe("'Host' must be a 'SignedHeader' in the AWS Authorization.");
  });

  it('a signature over another header list than the one named, or over a header changed since, does not verify', async () => {
    const headers = signedHeaders('{}', { signed: ['content-type', 'host', 'x-amz-date', 'x-amz-target'] });
    headers.authorization = headers.authorization!.replace('SignedHeaders=content-type;host;', 'SignedHeaders=host;');
    expectRefusal(await post(headers), headers, 'InvalidSignatureException');
    const changed = signedHeaders('{}', {}, { 'x-extra': 'one' });
    changed['x-extra'] = 'two';
    expectRefusal(await post(changed), changed, 'InvalidSignatureException');
  });

  it('signs header values trimmed with inner whitespace runs as one space', async () => {
    const sent = { 'x-extra': 'a   b \t c' };
    const headers = signedHeaders('{}', {}, { 'x-extra': 'a b c' });
    await ok({ ...headers, ...sent });
  });

  it('checks x-amz-content-sha256 against the body when sent: right passes, wrong or UNSIGNED-PAYLOAD does not', async () => {
    await ok(signedHeaders('{}', {}, { 'x-amz-content-sha256': sha256Hex('{}') }));
    for (const declared of [sha256Hex('{"Limit":1}'), 'UNSIGNED-PAYLOAD']) {
      const headers = signedHeaders('{}', {}, { 'x-amz-content-sha256': declared });
      const answer = await post(headers);
      expectRefusal(answer, headers, 'InvalidSignatureException');
      expect(answer.json.message).toBe("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
  });

  it('covers the path as sent (an endpoint with a path), and refuses one sent elsewhere', async () => {
    await ok(signedHeaders('{}', {}, {}, '/prefix/'), '{}', '/prefix/');
    const moved = signedHeaders('{}', { signedPath: '/' });
    expectRefusal(await post(moved, '{}', '/elsewhere/'), moved, 'InvalidSignatureException');
    const client = new KMSClient({ region: 'us-east-1', endpoint: `${server.url}/some prefix`, credentials: server.credentials, maxAttempts: 1 });
    expect((await client.send(new ListKeysCommand({}))).$metadata.httpStatusCode).toBe(200);
  });

  it('normalizes the signed path as the SDKs and AWS do: empty and dot segments are left out', async () => {
    // The JS SDK (like botocore) sends such an endpoint's path as given but signs it normalized (RFC 3986 dot
    // segments removed, runs of '/' as one): `//` signs as `/`, `/a/./b/` as `/a/b/`, `/kms//` as `/kms/`.
    for (const path of ['//', '/kms//', '/a/./b/', '/a/../b/', '/a/b/..', '/./']) {
      const client = new KMSClient({ region: 'us-east-1', endpoint: `${server.url}${path}`, credentials: server.credentials, maxAttempts: 1 });
      const answer = await client.send(new ListKeysCommand({})).catch((error: Error) => error);
      expect(answer instanceof Error ? `${path}: ${answer.name}` : `${path}: ${answer.$metadata.httpStatusCode}`).toBe(`${path}: 200`);
    }
  });
});

describe('connections', () => {
  it('keeps a keep-alive connection open after an authentication failure, and answers HTTP/1.0', async () => {
    const connection = await openConnection(server.port);
    const head = (headers: Record<string, string>, version: string) =>
      `POST / HTTP/${version}\r\n${Object.entries({ ...headers, 'content-length': '2' }).map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n{}`;
    const bad = signedHeaders('{}', { secret: 'not-the-secret-of-this-key-id' });
    connection.socket.write(head(bad, '1.1') + head({ ...signedHeaders('{}'), connection: 'close' }, '1.1'));
    const both = await connection.closed(5_000);
    const statuses = [...both.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([400, 200]);
    const old = await openConnection(server.port);
    old.socket.write(head(signedHeaders('{}'), '1.0'));
    const answer = parseRawResponse(await old.closed(5_000));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ Keys: [], Truncated: false });
  });
});
