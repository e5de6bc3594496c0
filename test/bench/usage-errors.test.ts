// A mistyped option stops `kms-engine bench` before any request with exit code 2 and one line on stderr that
// names the option and what it accepts: every numeric option, negative values written either way, values that
// are not numbers, and options that would be ignored without a word.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBenchOptions, UsageError } from '../../bench/harness/options.js';
import { runHarness } from './run-harness.js';

const env = {};

/** The message parseBenchOptions refuses `argv` with. */
function refusal(argv: string[]): string {
  try {
    parseBenchOptions(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('numeric options', () => {
  const integers: [string, string][] = [
    ['connections', 'an integer from 1 to 10000'], ['rounds', 'an integer from 1 to 100'],
    ['workers', 'an integer from 1 to 64'], ['pool-size', 'an integer from 1 to 100000'],
    ['timeout', 'an integer from 1 to 600'], ['payload-bytes', 'an integer from 1 to 4096'],
    ['rate', 'an integer from 1 to 1000000'], ['keys', 'an integer from 1 to 100000'],
    ['compare-keys', 'an integer from 1 to 100000'],
  ];
  // --rounds needs --compare to mean anything; give it one so its value is what is judged.
  const context = (name: string): string[] => (name === 'rounds' ? ['--compare', 'http://127.0.0.1:9'] : []);

  it.each(integers)('--%s refuses 0, negatives (either spelling), fractions, hex, blanks and words', (name, accepts) => {
    for (const value of ['0', '-1', '-0.5', '1.5', '0x10', '1e3', '', ' 5', 'ten', 'Infinity']) {
      expect(refusal([...context(name), `--${name}=${value}`])).toBe(`--${name} must be ${accepts}, got '${value}'`);
    }
    expect(refusal([...context(name), `--${name}`, '-1'])).toBe(`--${name} must be ${accepts}, got '-1'`);
  });

  it('--duration refuses 0, negatives, words and infinity; --warmup takes 0 but no negative', () => {
    for (const value of ['0', '-1', '-.5', 'abc', 'Infinity', '', '1s']) {
      expect(refusal(['--duration', value])).toBe(`--duration must be a positive number of seconds, got '${value}'`);
    }
    for (const value of ['-1', 'NaN', '2m']) {
      expect(refusal(['--warmup', value])).toBe(`--warmup must be a number of seconds, 0 or more, got '${value}'`);
    }
    expect(parseBenchOptions(['--duration', '0.5', '--warmup', '0'], env)).toMatchObject({ durationSeconds: 0.5, warmupSeconds: 0 });
    expect(parseBenchOptions(['--duration=.25'], env)).toMatchObject({ durationSeconds: 0.25 });
  });

  it('--server-pid refuses a list with anything but process ids', () => {
    expect(refusal(['--server-pid', '12,0x1'])).toBe("--server-pid must be a comma list of process ids, got '12,0x1'");
    expect(refusal(['--compare-server-pid', '-5'])).toBe("--compare-server-pid must be a comma list of process ids, got '-5'");
  });
});

describe('what parseArgs itself refuses, in one line about the option', () => {
  it.each([
    [['--bogus'], "unknown option '--bogus'"],
    [['--duration'], '--duration needs a value'],
    [['--duration', '--quiet'], '--duration needs a value'],
    [['--json=yes'], '--json takes no value'],
    [['encrypt'], "unexpected argument 'encrypt' (every option starts with --)"],
  ])('%j', (argv, message) => {
    expect(refusal(argv)).toBe(message);
  });
});

describe('options that would be ignored', () => {
  it('--arrivals without --rate, --rounds without --compare, --signing-algorithm without sign or verify', () => {
    expect(refusal(['--arrivals', 'even'])).toBe('--arrivals applies to --rate only (the closed loop has no arrival rate)');
    expect(refusal(['--rounds', '3'])).toBe('--rounds applies to --compare only (one endpoint is measured in one round)');
    expect(refusal(['--scenario', 'encrypt', '--signing-algorithm', 'ECDSA_SHA_256']))
      .toBe('--signing-algorithm applies to the sign and verify scenarios only');
    // The combinations that do shape the run stay accepted, --rate with --mix among them.
    expect(parseBenchOptions(['--mix', 'encrypt=1,verify=1', '--signing-algorithm', 'ECDSA_SHA_256', '--rate', '50',
      '--arrivals', 'autocannon', '--compare', 'http://127.0.0.1:9', '--rounds', '3'], env))
      .toMatchObject({ rate: 50, arrivals: 'autocannon', rounds: 3, signingAlgorithm: 'ECDSA_SHA_256' });
  });

  it('the --compare endpoint\'s keys and server processes without --compare', () => {
    expect(refusal(['--compare-key-id', 'alias/x'])).toBe('--compare-key-id applies to --compare only (there is no second endpoint)');
    expect(refusal(['--compare-keys', '10'])).toBe('--compare-keys applies to --compare only (there is no second endpoint)');
    const keyIdsFile = join(mkdtempSync(join(tmpdir(), 'bench-key-ids-')), 'keys.txt');
    writeFileSync(keyIdsFile, '1234abcd-12ab-34cd-56ef-1234567890ab\n');
    expect(refusal(['--compare-key-ids', keyIdsFile])).toBe('--compare-key-ids applies to --compare only (there is no second endpoint)');
    expect(refusal(['--server-pid', '1', '--compare-server-pid', '2']))
      .toBe('--compare-server-pid applies to --compare only (there is no second endpoint)');
    expect(parseBenchOptions(['--compare', 'http://127.0.0.1:9', '--compare-keys', '10', '--compare-server-pid', '2'], env))
      .toMatchObject({ compareKeys: { keyCount: 10 }, compareServerPids: [2] });
  });
});

describe('the command line', () => {
  it.each([
    [['--duration', '-1'], "--duration must be a positive number of seconds, got '-1'"],
    [['--rate', '0'], "--rate must be an integer from 1 to 1000000, got '0'"],
    [['--connections', 'many'], "--connections must be an integer from 1 to 10000, got 'many'"],
  ])('%j exits 2 with one line on stderr and nothing on stdout', async (argv, message) => {
    // A closed port: were the options accepted, the run would fail on it, with another exit code.
    const run = await runHarness(['--endpoint', 'http://127.0.0.1:9', ...argv]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`kms-engine bench: ${message} (kms-engine bench --help lists the options)\n`);
  });
});
