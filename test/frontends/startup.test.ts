// KMS_FRONTENDS start-up: what must happen once happens once (seed, credentials), a child's start-up failure
// ends the whole server with that child's one line and a non-zero status, and in-memory quotas start (the
// primary keeps the buckets; test/frontends/quotas.test.ts floods them).
import { CreateKeyCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer } from '../support/server.js';
import { BIN, childPids, isAlive, sleep } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'kms-frontends-start-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `kms-engine serve` to its end: status, everything it printed, and the pids of the children it had. */
async function serveToExit(env: Record<string, string>, timeoutMs = 30_000) {
  const dataDir = mkdtempSync(join(work, 'data-'));
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, HOST: '127.0.0.1', KMS_DATA_DIR: dataDir, KMS_WORKERS: '2', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const seen = new Set<number>();
  const watcher = setInterval(() => { for (const pid of childPids(child.pid!)) seen.add(pid); }, 20);
  const status = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve(code); });
  });
  clearInterval(watcher);
  return { status, output, children: [...seen], dataDir };
}

describe('KMS_FRONTENDS start-up', () => {
  it('reads auto as one front end per CPU and refuses other words', () => {
    expect(loadConfig({ KMS_FRONTENDS: 'auto' }).frontends).toBe(availableParallelism());
    expect(loadConfig({ KMS_FRONTENDS: '3' }).frontends).toBe(3);
    expect(loadConfig({}).frontends).toBe(1);
    expect(() => loadConfig({ KMS_FRONTENDS: 'many' })).toThrow(ConfigError);
    expect(() => loadConfig({ KMS_FRONTENDS: '0' })).toThrow(ConfigError);
  });

  it('starts with in-memory quotas and more than one front end (the primary keeps the buckets)', async () => {
    expect(loadConfig({ KMS_FRONTENDS: '2', KMS_QUOTAS: 'aws' }).quotaStore).toBe('memory');
    const server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_QUOTAS: 'aws,CreateKey=2' } });
    try {
      expect(childPids(server.process.pid!)).toHaveLength(2);
      expect(server.output().match(/kms-engine listening on /g)).toHaveLength(1);
      // The quotas are in force: CreateKey at 2/s for the engine admits a few of 10 at once and throttles the rest
      // (test/frontends/quotas.test.ts measures the shared rate).
      const client = server.client();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => client.send(new CreateKeyCommand({})).then(() => 'ok', (error: Error) => error.name)));
      const admitted = outcomes.filter((each) => each === 'ok').length;
      expect(admitted, outcomes.join()).toBeGreaterThanOrEqual(1);
      expect(admitted, outcomes.join()).toBeLessThanOrEqual(2 + 2); // the bucket, and a lease in hand per front end
      expect(outcomes.filter((each) => each !== 'ok').every((each) => each === 'ThrottlingException'), outcomes.join()).toBe(true);
    } finally {
      await server.remove();
    }
  });

  it('stops every front end when the port is taken, with one line and a non-zero status', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { status, output, children, dataDir } = await serveToExit({ KMS_FRONTENDS: '2', PORT: String(port) });
      expect(status).not.toBe(0);
      expect(status).not.toBeNull();
      expect(children).toHaveLength(2); // both front ends were started, and both failed
      const lines = output.split('\n').filter((line) => line.includes('EADDRINUSE'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^kms-engine: .*EADDRINUSE/);
      expect(output).not.toContain('listening on');
      expect(output).not.toMatch(/\n\s+at /); // no stack trace
      // The one line is all it printed: the credentials the primary made for this start are not printed, and
      // are removed so that the next start prints its own.
      expect(output.trim().split('\n'), output).toHaveLength(1);
      expect(existsSync(join(dataDir, 'credentials'))).toBe(false);
      await sleep(200);
      for (const pid of children) expect(isAlive(pid)).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it.each([
    ['KMS_QUOTAS', () => 'Encrypt=fast'],
    ['HOST', () => '999.1.1.1'],
    ['KMS_SEED_FILE', () => join(work, 'absent-seed.json')],
    // Found by the primary's engine (the workers refuse the material), after it made the data dir and credentials.
    ['KMS_SEED_FILE', () => {
      const path = join(work, 'bad-material.json');
      writeFileSync(path, JSON.stringify({ keys: [{ keyId: 'b3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a09', keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', material: 'AAAA' }] }));
      return path;
    }],
  ])('a bad %s stops the primary with one line naming it, before any front end, and no credentials', async (variable, value) => {
    const { status, output, children, dataDir } = await serveToExit({ KMS_FRONTENDS: '2', [variable]: value() });
    expect(status, output).toBe(2);
    expect(output.trim().split('\n'), output).toHaveLength(1);
    expect(output).toMatch(new RegExp(`^kms-engine: ${variable}: `));
    expect(children).toHaveLength(0);
    expect(existsSync(join(dataDir, 'credentials'))).toBe(false);
  });

  it('applies KMS_SEED_FILE once, in the primary, before the front ends start', async () => {
    const seedFile = join(work, 'seed.json');
    const keyIds = ['b3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01', 'b3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a02'];
    writeFileSync(seedFile, JSON.stringify({ keys: keyIds.map((keyId) => ({ keyId, aliases: [`alias/seeded/${keyId.slice(-2)}`] })) }));
    const server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_SEED_FILE: seedFile } });
    try {
      expect(server.output().match(/kms-engine: seed .*: 2 keys, 2 created/g)).toHaveLength(1);
      expect(server.output()).not.toMatch(/seed .*: 2 keys, 0 created/); // no child applied it again
      expect(server.output().match(/AWS_SECRET_ACCESS_KEY=/g)).toHaveLength(1);
      expect(childPids(server.process.pid!)).toHaveLength(2);
      const listed = await server.client().send(new ListKeysCommand({}));
      expect(listed.Keys!.map((key) => key.KeyId).sort()).toEqual(keyIds);
    } finally {
      await server.remove();
    }
  });

  it('prints nothing new at a restart: credentials and seed exist, one listening line', async () => {
    const dataDir = mkdtempSync(join(work, 'restart-'));
    const first = await startServer({ dataDir, env: { KMS_FRONTENDS: '2' } });
    expect(await first.stop()).toBe(0);
    const second = await startServer({ dataDir, env: { KMS_FRONTENDS: '2' } });
    try {
      expect(second.output()).not.toContain('AWS_SECRET_ACCESS_KEY');
      expect(second.output().match(/kms-engine listening on /g)).toHaveLength(1);
      expect(childPids(second.process.pid!)).toHaveLength(2);
      expect(await second.stop()).toBe(0);
    } finally {
      await second.remove();
    }
  });
});
