// The servers run-targets measures, started as a user would: the bare reference server, and the engine by
// `node bin/kms-engine.js serve` (ready when GET /healthz answers 200), optionally seeded first with
// `node bin/kms-engine.js seed FILE`. Both engines of a run share one credential pair (KMS_ACCESS_KEY_ID /
// KMS_SECRET_ACCESS_KEY), so one signer serves both sides of a comparison.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/paths.js';
import type { Credentials } from '../harness/signer.js';

export const ROOT = PROJECT_ROOT; // compiled (dist/bench/targets/) or as source under vitest

export interface Started {
  child: ChildProcess;
  url: string;
  pid: number;
}

/** A fresh root credential pair for the engines of one run (20 upper-case letters and digits, as AWS's). */
export function benchCredentials(): Credentials {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(16)].map((byte) => alphabet[byte % alphabet.length]).join('');
  return { accessKeyId: `AKIA${id}`, secretAccessKey: randomBytes(30).toString('base64url') };
}

/**
 * What the measured engines run with beyond their defaults. Issue 6's figures include quota enforcement, which is
 * off by default (KMS_QUOTAS=none): every crypto request is charged to its class's bucket here, at limits far above
 * what the machine can offer, so the buckets cost what they cost and never throttle.
 */
export const ENGINE_SETTINGS: Readonly<Record<string, string>> = {
  KMS_QUOTAS: 'symmetric=10000000,rsa=10000000,ecc=10000000',
};

/** How the settings read in a report. */
export const describeEngineSettings = (extra: Readonly<Record<string, string>> = {}): string =>
  Object.entries({ ...ENGINE_SETTINGS, ...extra }).map(([name, value]) => `${name}=${value}`).join(' ');

const engineEnv = (dataDir: string, credentials: Credentials, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env, ...ENGINE_SETTINGS, KMS_DATA_DIR: dataDir, KMS_ACCESS_KEY_ID: credentials.accessKeyId,
  KMS_SECRET_ACCESS_KEY: credentials.secretAccessKey, ...extra,
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function startReference(processes: number): Promise<Started> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/reference-server.js'), '--port', '0',
    '--processes', String(processes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ child, url: match[1]!, pid: child.pid! });
    });
    child.once('exit', (code) => reject(new Error(`reference server exited with ${code}`)));
  });
}

/**
 * `node bin/kms-engine.js serve` on a free loopback port; ready when GET /healthz answers 200. `settings` are
 * environment variables over ENGINE_SETTINGS (run-targets --frontends sets KMS_FRONTENDS).
 */
export async function startEngine(dataDir: string, credentials: Credentials, settings: Readonly<Record<string, string>> = {}): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin/kms-engine.js'), 'serve'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: engineEnv(dataDir, credentials, { ...settings, PORT: String(port), HOST: '127.0.0.1' }),
  });
  let exited: number | null | undefined;
  child.once('exit', (code) => { exited = code; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`the engine exited with ${exited} before it was ready`);
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error('the engine was not ready within 60 s');
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url, pid: child.pid! };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `node bin/kms-engine.js seed FILE` into `dataDir` before the engine starts; returns the seconds it took. */
export function seedEngine(dataDir: string, credentials: Credentials, file: string): number {
  const started = process.hrtime.bigint();
  execFileSync(process.execPath, [join(ROOT, 'bin/kms-engine.js'), 'seed', file], {
    cwd: ROOT, env: engineEnv(dataDir, credentials), stdio: ['ignore', 'ignore', 'inherit'],
  });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  commit: string;
  date: string;
}

export function machine(): Machine {
  const cpuinfo = (() => { try { return readFileSync('/proc/cpuinfo', 'utf8'); } catch { return ''; } })();
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    // not a git checkout
  }
  return { cpus: availableParallelism(), cpuModel, node: process.version, commit, date: new Date().toISOString() };
}
