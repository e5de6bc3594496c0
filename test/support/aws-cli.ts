// The AWS CLI v2 (Debian's awscli at /usr/bin/aws, installed by pretest) pointed at a test server, as a shell
// pipeline runs it: no config or credentials files, the root's keys and the server's Region in the environment.
// This CLI (2.9) predates AWS_ENDPOINT_URL_KMS: every call names the endpoint, which pipelines find in $KMS_URL.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestServer } from './server.js';

const run = promisify(execFile);

/** The environment `aws` runs in against `server` (also for `sh -c` pipelines that call it). */
export function awsCliEnv(server: TestServer): NodeJS.ProcessEnv {
  return {
    ...process.env, AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: server.region, AWS_DEFAULT_REGION: server.region, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '', KMS_URL: server.url,
  };
}

/** `aws kms ARGS --output json`, parsed; rejects (with `code` and `stderr`) when the CLI exits non-zero. */
export async function awsKms(server: TestServer, ...args: string[]): Promise<Record<string, any>> {
  const { stdout } = await run('/usr/bin/aws', ['kms', ...args, '--endpoint-url', server.url, '--output', 'json'], { env: awsCliEnv(server), timeout: 30_000 });
  return JSON.parse(stdout || '{}') as Record<string, any>;
}

/** A `sh -c` pipeline (aws, base64, openssl...) in `cwd`; its stdout as bytes. */
export async function shell(server: TestServer, cwd: string, script: string): Promise<Buffer> {
  const { stdout } = await run('/bin/sh', ['-ec', script], {
    cwd, env: { ...awsCliEnv(server), PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` }, encoding: 'buffer', timeout: 60_000,
  });
  return stdout;
}
