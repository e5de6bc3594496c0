// `--out DIR` is made before the run: a directory that cannot be made stops the harness at once, with a message
// naming --out and before any request, instead of after the whole run (losing its report) or never (Node 20's
// recursive mkdir spins for ever on /proc/nope).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarness } from './run-harness.js';

let server: Server;
let endpoint: string;
let requests = 0;
let workDir: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'kms-bench-out-'));
  server = createServer((req, res) => {
    requests++;
    req.resume().on('end', () => {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end('{"__type":"AccessDeniedException","message":"no"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(workDir, { recursive: true, force: true });
});

describe('--out DIR', () => {
  it.each([
    ['under a regular file', () => { const file = join(workDir, 'file'); writeFileSync(file, ''); return join(file, 'out'); }],
    ['where nothing can be made', () => '/proc/nope/out'],
  ])('that cannot be made %s stops the run before any request', async (_, outDir) => {
    requests = 0;
    const out = outDir();
    const run = await runHarness(['--endpoint', endpoint, '--key-id', 'alias/k', '--duration', '1', '--connections', '1',
      '--out', out, '--quiet']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`kms-engine bench: --out ${out}: `);
    expect(run.stdout).toBe('');
    expect(requests).toBe(0);
  });
});
