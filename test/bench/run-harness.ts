// Runs the compiled harness as its own process (so its load does not stall the test process's servers), with
// placeholder credentials, and collects what it printed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/paths.js';

export const HARNESS = join(PROJECT_ROOT, 'dist/bench/harness/main.js');

export interface HarnessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `interruptWhen`: send SIGINT (Ctrl-C) once stderr matches it. */
export function runHarness(args: string[], timeoutMs = 25_000, interruptWhen?: RegExp): Promise<HarnessRun> {
  const child = spawn(process.execPath, [HARNESS, ...args], { stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  let interrupted = false;
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (interruptWhen && !interrupted && interruptWhen.test(stderr)) interrupted = child.kill('SIGINT');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`harness timed out: ${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
