// Shared by the fuzz tests: a server with a few real keys to aim at, the response invariants every answer must
// keep, and the counters the tests report.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { call, post, type RawResponse } from './raw-client.js';

/** Planted in fuzzed strings: it must never come back in an error (no input is quoted into messages). */
export const MARKER = 'ZqxPlantedMarker';

export interface Targets {
  keyId: string;
  keyArn: string;
  aliasName: string;
  rsaKeyId: string;
  eccKeyId: string;
  hmacKeyId: string;
  ciphertext: Buffer;
  signature: Buffer;
  mac: Buffer;
}

/** Real resources for the fuzzers to hit, so inputs reach past "key not found" into the operations. */
export async function createTargets(server: TestServer): Promise<Targets> {
  const create = async (input: Record<string, unknown>) => (await call(server, 'CreateKey', input)).KeyMetadata as { KeyId: string; Arn: string };
  const key = await create({});
  const rsa = await create({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
  const ecc = await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
  const hmac = await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  const aliasName = 'alias/fuzz-target';
  await call(server, 'CreateAlias', { AliasName: aliasName, TargetKeyId: key.KeyId });
  const message = Buffer.from('fuzz message').toString('base64');
  const encrypted = await call(server, 'Encrypt', { KeyId: key.KeyId, Plaintext: message });
  const signed = await call(server, 'Sign', { KeyId: ecc.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' });
  const maced = await call(server, 'GenerateMac', { KeyId: hmac.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' });
  return {
    keyId: key.KeyId, keyArn: key.Arn, aliasName, rsaKeyId: rsa.KeyId, eccKeyId: ecc.KeyId, hmacKeyId: hmac.KeyId,
    ciphertext: Buffer.from(encrypted.CiphertextBlob as string, 'base64'),
    signature: Buffer.from(signed.Signature as string, 'base64'),
    mac: Buffer.from(maced.Mac as string, 'base64'),
  };
}

/** Requests sent and server errors seen, for the report line. */
export class Tally {
  requests = 0;
  serverErrors: string[] = [];
  summary(label: string): string {
    return `${label}: ${this.requests} requests, ${this.serverErrors.length} 5xx`;
  }
}

/**
 * AWS names the missing resource in NotFoundException ("Alias 'arn:...:alias/NAME' is not found."): an identifier the
 * caller chose (an alias name matching the model's pattern), echoed inside an ARN, is the protocol and not a leak. Everything else must not quote input.
 */
const IDENTIFIER_ECHO = /arn:aws:kms:[a-z0-9-]+:\d{12}:[A-Za-z0-9:/_-]+/g;

/** The invariants of every answer: never 5xx, JSON always, errors exactly {"__type","message"} and 4xx, no echo. */
export function checkResponse(response: RawResponse, tally: Tally, what: string): void {
  tally.requests++;
  if (response.status >= 500) tally.serverErrors.push(`${what} -> ${response.status} ${response.text.slice(0, 200)}`);
  expect(response.status, `${what} -> ${response.text.slice(0, 300)}`).toBeLessThan(500);
  expect(response.json, `${what}: body is not a JSON object: ${response.text.slice(0, 200)}`).toBeDefined();
  if (response.status === 200) return;
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(Object.keys(response.json!).sort(), what).toEqual(['__type', 'message']);
  expect(typeof response.json!.__type).toBe('string');
  expect(typeof response.json!.message).toBe('string');
  const message = (response.json!.message as string).replace(IDENTIFIER_ECHO, '');
  expect(message, `${what}: input echoed in ${response.text.slice(0, 300)}`).not.toContain(MARKER);
}

/** Sends one signed request and checks the invariants. */
export async function sendChecked(server: TestServer, operation: string, body: string | Uint8Array, tally: Tally,
  headers?: Record<string, string>): Promise<RawResponse> {
  const response = await post(server, operation, body, { headers });
  checkResponse(response, tally, `${operation} ${typeof body === 'string' ? body.slice(0, 160) : `<${body.length} bytes>`}`);
  return response;
}

/** Resident memory of a process in bytes (Linux /proc). */
export function residentBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

/** A fuzz file's server: started with its targets, its resident memory noted for the closing report. */
export interface FuzzedServer {
  server: TestServer;
  targets: Targets;
  rssBefore: number;
}

export async function startFuzzedServer(): Promise<FuzzedServer> {
  const server = await startServer();
  return { server, targets: await createTargets(server), rssBefore: residentBytes(server.process.pid!) };
}

/**
 * Ends a fuzz file: its report line (requests, 5xx, the server's memory before and after), a check that nothing
 * reached the server's internal-error path or planted its marker in the server's log, and the server removed.
 */
export async function stopFuzzedServer(fuzzed: FuzzedServer | undefined, tally: Tally, label: string): Promise<void> {
  if (fuzzed === undefined) return;
  const { server, rssBefore } = fuzzed;
  try {
    console.log(`${tally.summary(label)}; server RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> `
      + `${(residentBytes(server.process.pid!) / 2 ** 20).toFixed(0)} MiB`);
    const logged = server.output().split('\n').filter((line) => /internal error|unhandled error/.test(line) || line.includes(MARKER));
    expect(logged).toEqual([]);
  } finally {
    await server.remove();
  }
}
