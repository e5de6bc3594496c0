// The kms-engine command line when the user gets it wrong, or asks: `--help` (top level or a command's) answers on
// stdout with exit 0; `--version` prints the package's version; an unknown command, an argument a command does
// not take, or a missing one is ONE line on stderr naming what is wrong or the right usage, exit 2, and creates
// nothing (no data directory): a mistaken `serve --port 9000` must not start a server on the default port.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { runCli } from '../support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'kms-cli-usage-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };

let runs = 0;
/** The command on a data directory that does not exist; PORT=0 so a server started by mistake harms nothing. */
function run(args: string[]) {
  const dataDir = join(work, `data-${++runs}`);
  const result = runCli(args, { KMS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }, { timeoutMs: 20_000 });
  return { ...result, madeDataDir: existsSync(dataDir) };
}

describe('kms-engine answers', () => {
  it.each([['--help'], ['-h'], ['help']])('%s: the command list on stdout, exit 0', (flag) => {
    const result = run([flag]);
    expect(result.status, result.output).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^usage: kms-engine <command>\n/);
    for (const command of ['serve', 'seed FILE', 'audit verify FILE', 'backup DIR', 'rotate-root-key', 'bench', '--version']) expect(result.stdout).toContain(command);
  });

  it('--help says that serve is what a bare `kms-engine` runs', () => {
    // A user who types `kms-engine` alone gets a server and a data directory, not this list: the list must say so.
    expect(run(['--help']).stdout).toMatch(/^ {2}serve +start the server \(the default, with no command;/m);
  });

  it.each([['--version'], ['-v'], ['version']])('%s: the package version on stdout, exit 0', (flag) => {
    const result = run([flag]);
    expect([result.status, result.stdout, result.stderr]).toEqual([0, `kms-engine ${version}\n`, '']);
  });

  it.each([
    [['serve', '--help'], /^usage: kms-engine serve /],
    [['seed', '--help'], /^usage: kms-engine seed FILE$/],
    [['audit', '--help'], /^usage: kms-engine audit verify FILE$/],
    [['audit', 'verify', '-h'], /^usage: kms-engine audit verify FILE$/],
    [['rotate-root-key', '--help'], /^usage: kms-engine rotate-root-key /],
    [['backup', '--help'], /^usage: kms-engine backup DIR /],
  ])('%j: the command\'s usage line on stdout, exit 0, nothing made', (args, line) => {
    const result = run(args);
    expect(result.status, result.output).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.lines).toEqual([expect.stringMatching(line)]);
    expect(result.madeDataDir).toBe(false);
  });
});

describe('kms-engine refuses with one line on stderr, exit 2, and makes nothing', () => {
  it.each([
    [['frobnicate'], /^kms-engine: unknown command 'frobnicate' \(kms-engine --help lists the commands\)$/],
    [['--verbose'], /^kms-engine: unknown command '--verbose'/],
    [['serve', '--port', '9000'], /^usage: kms-engine serve .*environment variables/],
    [['seed'], /^usage: kms-engine seed FILE$/],
    [['seed', 'a.json', 'b.json'], /^usage: kms-engine seed FILE$/],
    [['audit'], /^usage: kms-engine audit verify FILE$/],
    [['audit', 'check', 'audit.jsonl'], /^usage: kms-engine audit verify FILE$/],
    [['audit', 'verify'], /^usage: kms-engine audit verify FILE$/],
    [['rotate-root-key', 'now'], /^usage: kms-engine rotate-root-key /],
    [['--version', 'now'], /^kms-engine: --version takes no arguments, got 'now' \(kms-engine --help lists the commands\)$/],
    [['version', '--json'], /^kms-engine: version takes no arguments, got '--json'/],
    [['--help', 'serve'], /^kms-engine: --help takes no arguments, got 'serve'/],
  ])('%j', (args, line) => {
    const result = run(args);
    expect(result.status, result.output).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.lines).toEqual([expect.stringMatching(line)]);
    expect(result.madeDataDir).toBe(false);
  });
});
