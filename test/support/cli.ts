// A kms-engine command other than `serve`, run to its end as a user runs it: its own process, the compiled CLI,
// the given environment on top of this one (KMS_WORKERS=1: these commands do little crypto).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/paths.js';

export const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout then stderr, for assertion messages. */
  output: string;
  /** The non-empty lines of stdout and stderr together. */
  lines: string[];
}

/** `timeoutMs`: a command that should end at once but might not (a server started by mistake) is killed then. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, { cwd = PROJECT_ROOT, timeoutMs = 60_000 } = {}): CliRun {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd, env: { ...process.env, KMS_WORKERS: '1', ...env }, encoding: 'utf8', timeout: timeoutMs,
  });
  const output = `${result.stdout}${result.stderr}`;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, output, lines: output.split('\n').filter((line) => line !== '') };
}
