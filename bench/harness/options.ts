// `kms-engine bench` options and where credentials come from. Parsing is strict: an unknown or malformed
// option stops the run with a message naming it, before any request is sent.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isKeySpec, KEY_SPECS, type KeySpec, type SigningAlgorithm } from '../../src/contract/key-specs.js';
import { readKeyIdsFile, suits, type KeySelection } from './keys.js';
import type { Arrivals } from './load.js';
import { parseMix, isScenario, PURPOSE, SCENARIOS, type WeightedScenario } from './scenarios.js';
import type { Credentials } from './signer.js';

export interface BenchOptions {
  endpoint: string;
  compare?: string;
  region: string;
  credentials: Credentials;
  /** Where the credentials came from, for the report (never the secret). */
  credentialSource: string;
  mix: WeightedScenario[];
  /** --key-id: one key for every scenario its spec suits. */
  keyId?: string;
  /** --key-ids FILE: spread the requests over these keys. */
  keyIds?: readonly string[];
  /** --keys N: spread the requests over N keys (listed, created where too few exist). */
  keyCount?: number;
  /** The keys of the --compare endpoint when they differ from the endpoint's (absent: the same selection). */
  compareKeys?: KeySelection;
  keySpec?: KeySpec;
  signingAlgorithm?: SigningAlgorithm;
  payloadBytes: number;
  connections: number;
  rate?: number;
  /** How a fixed --rate is delivered: evenly spaced (default) or autocannon's per-second bursts. */
  arrivals: Arrivals;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  workers: number;
  poolSize: number;
  timeoutSeconds: number;
  serverPids: number[];
  compareServerPids: number[];
  out?: string;
  json: boolean;
  quiet: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `Usage: kms-engine bench [options]

Drives a KMS endpoint (this engine, another emulator, AWS KMS) with SigV4-signed requests.

  --endpoint URL            endpoint to load (default http://127.0.0.1:8080)
  --compare URL             second endpoint, run alternately in rounds; prints ratios endpoint/compare
  --rounds N                rounds per endpoint when comparing (default 2); --duration is split across them
  --region R                signing region (default $AWS_REGION, $KMS_REGION or us-east-1)
  --access-key-id ID        credentials; else $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY,
  --secret-access-key KEY     $KMS_ACCESS_KEY_ID/$KMS_SECRET_ACCESS_KEY, or $KMS_DATA_DIR/credentials
  --scenario NAME           ${SCENARIOS.join(' | ')} (default encrypt)
  --mix a=W,b=W             weighted mix of scenarios, e.g. encrypt=3,decrypt=1
  --key-id ID               key to use where its spec suits the scenario; else one is created
  --key-ids FILE            spread requests over these keys (one key id, ARN or alias per line; one spec)
  --keys N                  spread requests over N keys of a suitable spec: existing ones (ListKeys),
                              created where fewer exist; each key gets its own pre-signed bodies
  --compare-key-id ID, --compare-key-ids FILE, --compare-keys N
                            the same for --compare (default: what the endpoint uses)
  --key-spec SPEC           spec of created keys, for the scenarios it suits (default SYMMETRIC_DEFAULT;
                              ECC_NIST_P256 for sign/verify); one that suits none of them is refused
  --signing-algorithm ALG   for sign/verify (default: the spec's first; RSASSA_PSS_SHA_256 for RSA)
  --payload-bytes N         plaintext / message size (default 1024, at most 4096)
  --connections N           concurrent connections (default 64)
  --rate R                  fixed arrival rate in requests/s (open loop), on --connections connections;
                              an envelope (GenerateDataKey, then its Decrypt) is one arrival
  --arrivals even|autocannon  how --rate arrives: evenly spaced (default), or autocannon's overallRate,
                              which sends each connection's per-second budget in a burst
  --duration S              measured seconds per endpoint (default 10)
  --warmup S                unmeasured seconds per endpoint before the first round (default 0)
  --workers N               load-generator threads (default 1); use more when one cannot sign fast enough
  --pool-size N             distinct pre-signed requests per scenario (default 256; at least one per key)
  --timeout S               per-request timeout (default 10)
  --server-pid PID[,PID]    server processes (children included) whose CPU-seconds to measure (local only)
  --compare-server-pid P    the same for --compare
  --out DIR                 write report.md, report.json, throughput.svg, latency.svg
  --json                    print the report as JSON on stdout
  --quiet                   no progress line on stderr

Exit status: 0 when every endpoint answered some requests with 2xx, or throttled every one (a quota reached at
once, said on stderr); 1 when an endpoint had no successful request (the report is still printed and stderr
names the commonest error code or cause), or the run could not be prepared; 2 for a malformed option; 130
after Ctrl-C, which reports what was measured until then (a second Ctrl-C quits at once).
`;

// Digits only: Number() would also take '0x10', '1e3', ' 5 ' and '' (as 0), which no one means as a count.
const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

function positiveInteger(name: string, text: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (text === undefined) return fallback;
  const value = INTEGER.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}, got '${text}'`);
  return value;
}

function seconds(name: string, text: string | undefined, fallback: number, allowZero = false): number {
  if (text === undefined) return fallback;
  const value = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || (!allowZero && value === 0)) {
    throw new UsageError(`--${name} must be a ${allowZero ? 'number of seconds, 0 or more' : 'positive number of seconds'}, got '${text}'`);
  }
  return value;
}

function pidList(name: string, text: string | undefined): number[] {
  if (text === undefined) return [];
  return text.split(',').map((part) => {
    const pid = INTEGER.test(part.trim()) ? Number(part.trim()) : NaN;
    if (!Number.isInteger(pid) || pid < 1) throw new UsageError(`--${name} must be a comma list of process ids, got '${text}'`);
    return pid;
  });
}

function endpointUrl(name: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--${name} must be a URL like http://127.0.0.1:8080, got '${text}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--${name} must be http:// or https://`);
  return url.toString().replace(/\/$/, '');
}

/** --key-id, --key-ids FILE or --keys N (at most one), with `prefix` 'compare-' for the --compare endpoint. */
function keySelection(prefix: '' | 'compare-', str: (name: string) => string | undefined): KeySelection | undefined {
  const keyId = str(`${prefix}key-id`);
  const file = str(`${prefix}key-ids`);
  const countText = str(`${prefix}keys`);
  const given = [keyId, file, countText].filter((value) => value !== undefined).length;
  if (given === 0) return undefined;
  if (given > 1) throw new UsageError(`give one of --${prefix}key-id, --${prefix}key-ids and --${prefix}keys`);
  if (file !== undefined) {
    try {
      return { keyIds: readKeyIdsFile(file) };
    } catch (error) {
      throw new UsageError(`--${prefix}key-ids: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (countText !== undefined) return { keyCount: positiveInteger(`${prefix}keys`, countText, 1, 100_000) };
  return { keyId };
}

/** Flag, then AWS_* env, then KMS_* env, then the file the server writes in its data directory. */
export function resolveCredentials(flags: { accessKeyId?: string; secretAccessKey?: string },
  env: NodeJS.ProcessEnv): { credentials: Credentials; source: string } | undefined {
  if (flags.accessKeyId || flags.secretAccessKey) {
    if (!flags.accessKeyId || !flags.secretAccessKey) throw new UsageError('--access-key-id and --secret-access-key go together');
    return { credentials: { accessKeyId: flags.accessKeyId, secretAccessKey: flags.secretAccessKey }, source: 'flags' };
  }
  for (const prefix of ['AWS', 'KMS'] as const) {
    const accessKeyId = env[`${prefix}_ACCESS_KEY_ID`];
    const secretAccessKey = env[`${prefix}_SECRET_ACCESS_KEY`];
    if (accessKeyId && secretAccessKey) return { credentials: { accessKeyId, secretAccessKey }, source: `${prefix}_* environment` };
  }
  const file = join(env.KMS_DATA_DIR ?? 'data', 'credentials');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let parsed: Partial<Credentials> | null;
  try {
    parsed = JSON.parse(text) as Partial<Credentials> | null;
  } catch {
    throw new UsageError(`${file} is not JSON; it should hold {"accessKeyId","secretAccessKey"}`);
  }
  if (parsed === null || typeof parsed !== 'object' || typeof parsed.accessKeyId !== 'string' || typeof parsed.secretAccessKey !== 'string') {
    throw new UsageError(`${file} does not hold {"accessKeyId","secretAccessKey"}`);
  }
  return { credentials: { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey }, source: file };
}

/** Credentials used when none are configured: enough for endpoints that ignore auth (the reference server). */
export const ANONYMOUS_CREDENTIALS: Credentials = { accessKeyId: 'AKIDBENCHANONYMOUS', secretAccessKey: 'bench' };

const STRING_OPTIONS = [
  'endpoint', 'compare', 'rounds', 'region', 'access-key-id', 'secret-access-key', 'scenario', 'mix', 'key-id',
  'key-ids', 'keys', 'compare-key-id', 'compare-key-ids', 'compare-keys',
  'key-spec', 'signing-algorithm', 'payload-bytes', 'connections', 'rate', 'arrivals', 'duration', 'warmup', 'workers',
  'pool-size', 'timeout', 'server-pid', 'compare-server-pid', 'out',
] as const;

const isStringOption = (name: string): boolean => (STRING_OPTIONS as readonly string[]).includes(name);

/**
 * `--duration -1` as `--duration=-1`: parseArgs refuses a value starting with a dash as "ambiguous" and tells the
 * user to write `--duration=-XYZ`; joined, the value reaches the option's own check, which says what it accepts.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg.startsWith('--') && isStringOption(arg.slice(2)) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

/** parseArgs's messages, which speak of positionals and '-- "--x"', as one line about the option at fault. */
function usageErrorOf(error: unknown): UsageError {
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^' ]+)/.exec(message)?.[1] ?? '';
  switch ((error as { code?: unknown }).code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return new UsageError(`unknown option '${quoted}'`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': return new UsageError(`unexpected argument '${quoted}' (every option starts with --)`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(message.includes('does not take') ? `${quoted} takes no value` : `${quoted} needs a value`);
    default: return new UsageError(message);
  }
}

export function parseBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv), strict: true, allowPositionals: false,
      options: {
        ...Object.fromEntries(STRING_OPTIONS.map((name) => [name, { type: 'string' }])) as
          Record<(typeof STRING_OPTIONS)[number], { type: 'string' }>,
        json: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw usageErrorOf(error);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const str = (name: string): string | undefined => v[name] as string | undefined;
  if (v.help) return 'help';

  if (str('scenario') && str('mix')) throw new UsageError('give --scenario or --mix, not both');
  const scenario = str('scenario') ?? 'encrypt';
  if (!str('mix') && !isScenario(scenario)) throw new UsageError(`--scenario must be one of ${SCENARIOS.join(', ')}, got '${scenario}'`);
  let mix: WeightedScenario[];
  try {
    mix = parseMix(str('mix') ?? scenario);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  const keySpec = str('key-spec');
  if (keySpec !== undefined && !isKeySpec(keySpec)) throw new UsageError(`--key-spec must be a KMS key spec, got '${keySpec}'`);
  // A spec is used for the scenarios it suits, the others keep their default; one that suits none of the run's
  // would be ignored altogether, and the run would measure keys of another spec than the one asked for.
  if (keySpec !== undefined && !mix.some(({ scenario }) => suits(keySpec, PURPOSE[scenario]))) {
    throw new UsageError(`--key-spec ${keySpec} suits none of ${mix.map((m) => m.scenario).join(', ')}: encrypt and ` +
      'decrypt take SYMMETRIC_DEFAULT or RSA_*, generate-data-key and envelope SYMMETRIC_DEFAULT, sign and verify ' +
      'a signing spec (ECC_*, RSA_*, ML_DSA_*)');
  }
  const signingAlgorithm = str('signing-algorithm');
  const allSigning = new Set(Object.values(KEY_SPECS).flatMap((info) => info.signingAlgorithms ?? []));
  if (signingAlgorithm !== undefined && !allSigning.has(signingAlgorithm as SigningAlgorithm)) {
    throw new UsageError(`--signing-algorithm must be a KMS signing algorithm, got '${signingAlgorithm}'`);
  }
  if (signingAlgorithm !== undefined && !mix.some(({ scenario }) => PURPOSE[scenario] === 'sign')) {
    throw new UsageError('--signing-algorithm applies to the sign and verify scenarios only');
  }

  const arrivals = str('arrivals') ?? 'even';
  if (arrivals !== 'even' && arrivals !== 'autocannon') throw new UsageError(`--arrivals must be even or autocannon, got '${arrivals}'`);
  // Options that only shape something not asked for would be ignored without a word, and the run would not be
  // the one the user meant.
  if (str('arrivals') !== undefined && str('rate') === undefined) throw new UsageError('--arrivals applies to --rate only (the closed loop has no arrival rate)');
  if (str('rounds') !== undefined && str('compare') === undefined) throw new UsageError('--rounds applies to --compare only (one endpoint is measured in one round)');
  const keys = keySelection('', str) ?? {};
  const compareKeys = keySelection('compare-', str);
  const compareServerPids = pidList('compare-server-pid', str('compare-server-pid'));
  const compareOnly = ['compare-key-id', 'compare-key-ids', 'compare-keys', 'compare-server-pid'].find((name) => str(name) !== undefined);
  if (compareOnly !== undefined && str('compare') === undefined) {
    throw new UsageError(`--${compareOnly} applies to --compare only (there is no second endpoint)`);
  }

  const resolved = resolveCredentials({ accessKeyId: str('access-key-id'), secretAccessKey: str('secret-access-key') }, env);
  const rateText = str('rate');
  return {
    endpoint: endpointUrl('endpoint', str('endpoint') ?? 'http://127.0.0.1:8080'),
    compare: str('compare') === undefined ? undefined : endpointUrl('compare', str('compare')!),
    region: str('region') ?? env.AWS_REGION ?? env.KMS_REGION ?? 'us-east-1',
    credentials: resolved?.credentials ?? ANONYMOUS_CREDENTIALS,
    credentialSource: resolved?.source ?? 'none found (anonymous placeholder)',
    mix,
    ...keys,
    compareKeys,
    keySpec: keySpec as KeySpec | undefined,
    signingAlgorithm: signingAlgorithm as SigningAlgorithm | undefined,
    payloadBytes: positiveInteger('payload-bytes', str('payload-bytes'), 1024, 4096),
    connections: positiveInteger('connections', str('connections'), 64, 10_000),
    rate: rateText === undefined ? undefined : positiveInteger('rate', rateText, 1, 1_000_000),
    arrivals,
    durationSeconds: seconds('duration', str('duration'), 10),
    warmupSeconds: seconds('warmup', str('warmup'), 0, true),
    rounds: positiveInteger('rounds', str('rounds'), 2, 100),
    workers: positiveInteger('workers', str('workers'), 1, 64),
    poolSize: positiveInteger('pool-size', str('pool-size'), 256, 100_000),
    timeoutSeconds: positiveInteger('timeout', str('timeout'), 10, 600),
    serverPids: pidList('server-pid', str('server-pid')),
    compareServerPids,
    out: str('out'),
    json: v.json === true,
    quiet: v.quiet === true,
  };
}
