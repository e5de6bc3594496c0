// A SIGTERM sent the moment the server prints its `listening on` line (a supervisor that stops what it just
// started, a test) drains and exits 0 like any other. The handlers used to be installed only after the start
// returned, and on a data directory with work to pick up at start (here one an older release wrote) about half
// such signals met Node's default action instead: the process died undrained, without its `shutting down` line.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { BIN } from '../support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'kms-sigterm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Starts serve on a copy of an old release's data directory and sends SIGTERM on the `listening on` line. */
async function stopAtOnce(attempt: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const dataDir = join(work, `data-${attempt}`);
  cpSync(join(PROJECT_ROOT, 'test', 'fixtures', 'upgrade-e2e62e9', 'data'), dataDir, { recursive: true });
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, KMS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', KMS_WORKERS: '2' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('kms-engine listening on') && !child.killed) child.kill('SIGTERM');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  return { code, signal, output };
}

describe('SIGTERM right after the listening line', () => {
  it('drains and exits 0 every time', async () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const { code, signal, output } = await stopAtOnce(attempt);
      expect({ code, signal }, `attempt ${attempt}:\n${output}`).toEqual({ code: 0, signal: null });
      expect(output).toContain('kms-engine: shutting down');
    }
  }, 120_000);
});
