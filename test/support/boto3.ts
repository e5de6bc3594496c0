// A boto3 script run against a test server, as a pipeline runs it: Debian's /usr/bin/python3 with python3-boto3
// (installed by pretest; `python3` on PATH may be a pyenv shim without it), the root's keys in the environment,
// no config or credentials files, the endpoint in KMS_ENDPOINT_URL. The script prints its findings as one JSON
// document, which the tests assert on.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestServer } from './server.js';

const run = promisify(execFile);

export async function runBotoScript(server: TestServer, script: string,
  options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Record<string, any>> {
  const { stdout } = await run('/usr/bin/python3', [script], {
    timeout: options.timeoutMs ?? 30_000,
    env: {
      PATH: '/usr/bin:/bin', KMS_ENDPOINT_URL: server.url,
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
      AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      ...options.env,
    },
  });
  return JSON.parse(stdout) as Record<string, any>;
}
