// Temporary credentials, configured: a KMS_IDENTITIES entry with a sessionToken stands for an STS-style key,
// secret and token (an assumed-role session, as a pipeline's production role hands them out). Every request
// signed with that key must carry exactly that token, from the JS SDK and the AWS CLI alike; without it, or with
// another, it is refused as AWS refuses a token it did not issue. Keys without one take no token (sigv4-wire).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsCliEnv } from '../support/aws-cli.js';
import { startServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
const ACCOUNT = '111122223333';
const INVALID = 'The security token included in the request is invalid.';
const SESSION = {
  accessKeyId: 'ASIAPIPELINESESSION1', secretAccessKey: 'session-secret-0123456789',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN0123456789abcdef',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/pipeline/run-42`,
  policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }],
};

let dir: string;
let server: TestServer;
let keyId: string;

const sessionClient = (sessionToken?: string) => server.client({
  credentials: { accessKeyId: SESSION.accessKeyId, secretAccessKey: SESSION.secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kms-session-'));
  const identities = join(dir, 'identities.json');
  writeFileSync(identities, JSON.stringify({ identities: [SESSION] }));
  server = await startServer({ env: { KMS_IDENTITIES: identities } });
  const { KeyMetadata } = await server.client().send(new CreateKeyCommand({}));
  keyId = KeyMetadata!.KeyId!;
});
afterAll(async () => {
  await server?.remove();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('a session configured with its token', () => {
  it('is served when its requests carry the token, as the session it is', async () => {
    const kms = sessionClient(SESSION.sessionToken);
    const { CiphertextBlob, KeyId } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('with token') }));
    expect(KeyId).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`);
    const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext!).toString()).toBe('with token');
  });

  it.each([
    ['no token', undefined],
    ['another token of the same length', SESSION.sessionToken.replace(/.$/, 'X')],
    ['a prefix of the token', SESSION.sessionToken.slice(0, 20)],
  ])('is refused with %s, as AWS refuses temporary credentials without their token', async (_, token) => {
    await expect(sessionClient(token).send(new ListKeysCommand({}))).rejects.toMatchObject({
      name: 'UnrecognizedClientException', message: INVALID, $metadata: { httpStatusCode: 400 },
    });
  });

  it('works from the AWS CLI with AWS_SESSION_TOKEN, and not without it', async () => {
    const env = {
      ...awsCliEnv(server), AWS_ACCESS_KEY_ID: SESSION.accessKeyId, AWS_SECRET_ACCESS_KEY: SESSION.secretAccessKey,
    };
    const args = ['kms', 'describe-key', '--key-id', keyId, '--endpoint-url', server.url, '--output', 'json'];
    const { stdout } = await run('/usr/bin/aws', args, { env: { ...env, AWS_SESSION_TOKEN: SESSION.sessionToken }, timeout: 30_000 });
    expect(JSON.parse(stdout).KeyMetadata.KeyId).toBe(keyId);
    const refused = await run('/usr/bin/aws', args, { env, timeout: 30_000 }).then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(refused?.code).toBe(254);
    expect(refused?.stderr).toContain(`(UnrecognizedClientException) when calling the DescribeKey operation: ${INVALID}`);
    expect(refused?.stderr).not.toContain(SESSION.sessionToken);
  });
});
