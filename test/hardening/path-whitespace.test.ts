// A path the server creates when missing (KMS_DATA_DIR, KMS_ROOT_KEY_FILE, KMS_AUDIT_LOG) given with white space
// around it, as a value read from a file or a config map carries a trailing newline: the server took it as
// written, made a new data directory under its working directory (or a new root key file, a new audit log) and
// served an empty store with new credentials instead of the volume's. It now stops at start with the one line
// naming the variable (exit 2) and creates nothing, as for any other bad value.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'kms-engine-path-whitespace-'));
const volume = join(work, 'volume');
const cwd = join(work, 'cwd');
mkdirSync(volume);
mkdirSync(cwd);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('paths with white space around them', () => {
  it.each([
    ['KMS_DATA_DIR', { KMS_DATA_DIR: `${volume}\n` }],
    ['KMS_DATA_DIR', { KMS_DATA_DIR: ` ${volume}` }],
    ['KMS_ROOT_KEY_FILE', { KMS_DATA_DIR: volume, KMS_ROOT_KEY_FILE: `${join(volume, 'root.key')} ` }],
    ['KMS_AUDIT_LOG', { KMS_DATA_DIR: volume, KMS_AUDIT_LOG: `${join(volume, 'audit.jsonl')}\n` }],
  ])('%s %j stops the start and creates nothing', (variable, env) => {
    const run = runCli(['serve'], { PORT: '0', HOST: '127.0.0.1', ...env }, { cwd, timeoutMs: 20_000 });
    expect(run.status, run.output).toBe(2);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatch(new RegExp(`^kms-engine: ${variable} must not start or end with white space`));
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(volume)).toEqual([]);
  });
});
