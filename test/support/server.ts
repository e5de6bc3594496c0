// A real kms-engine server for tests: the compiled CLI (`node bin/kms-engine.js serve`) in its own process,
// on a free loopback port, with a throwaway data directory. The real AWS SDK talks to it over HTTP.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { PROJECT_ROOT } from '../../src/paths.js';

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  region: string;
  accountId: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  process: ChildProcess;
  /** Everything the server printed so far (stdout and stderr). */
  output(): string;
  /** A JS SDK client for the root principal (or the given credentials), with retries off unless asked. */
  client(options?: { credentials?: { accessKeyId: string; secretAccessKey: string }; maxAttempts?: number }): KMSClient;
  /** SIGTERM and wait for exit; keeps the data directory (see remove). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops if running and deletes the data directory. */
  remove(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a data directory (restart tests); default: a new temp dir. */
  dataDir?: string;
  args?: string[];
}

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const READY = /kms-engine listening on (https?:\/\/[^\s]+):(\d+)/;

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kms-engine-test-'));
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    PORT: '0', HOST: '127.0.0.1', KMS_DATA_DIR: dataDir, KMS_WORKERS: '2', ...options.env,
  };
  const child = spawn(process.execPath, [BIN, ...(options.args ?? ['serve'])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = await new Promise<{ url: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${output}`)), 30_000);
    const check = () => {
      const match = READY.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ url: `${match[1]}:${match[2]}`, port: Number(match[2]) });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  const credentials = options.env?.KMS_ACCESS_KEY_ID !== undefined
    ? { accessKeyId: options.env.KMS_ACCESS_KEY_ID, secretAccessKey: options.env.KMS_SECRET_ACCESS_KEY! }
    : JSON.parse(readFileSync(join(dataDir, 'credentials'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  const region = options.env?.KMS_REGION ?? 'us-east-1';
  let stopped: Promise<number | null> | undefined;
  const server: TestServer = {
    ...started,
    dataDir,
    region,
    accountId: options.env?.KMS_ACCOUNT_ID ?? '111122223333',
    credentials,
    process: child,
    output: () => output,
    client: (clientOptions = {}) => new KMSClient({
      region,
      endpoint: started.url,
      credentials: clientOptions.credentials ?? credentials,
      maxAttempts: clientOptions.maxAttempts ?? 1,
    }),
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      stopped ??= (child.kill(signal), exited);
      return stopped;
    },
    async remove() {
      await server.stop();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
