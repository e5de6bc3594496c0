// KMS_LATENCY: added latency per operation, so a pipeline load test sees AWS-like response times from a server
// that answers in microseconds. Off unless set.
//
//   KMS_LATENCY = RULE [; RULE]...
//   RULE        = TARGET=DISTRIBUTION
//   TARGET      = crypto | management | * | <operation name, e.g. Sign>
//   DISTRIBUTION= fixed:D                       always D
//               | uniform:D..D                  uniformly between the two
//               | lognormal:p50=D,p99=D         log-normal with that median and 99th percentile
//               | off                           no added latency (exempts one operation from its class)
//   D           = a non-negative number with a unit: us, ms or s (5ms, 0.5s, 250us)
//
// An operation takes its own rule over its class's (crypto = the cryptographic operations of kms-api.md
// section 9, management = every other operation), and a class rule over `*`; among rules for the same target
// the later wins. Example:
//   KMS_LATENCY="crypto=lognormal:p50=8ms,p99=40ms;management=uniform:20ms..80ms;Sign=fixed:5ms"
// Delays are capped at 60 s so a log-normal tail cannot hang a request. The pipeline waits them on a Node timer,
// which counts whole milliseconds (a fraction is cut, under 1 ms becomes 1 ms): draws stay exact here, and the
// README says what the wire shows.

import { operationsOf, rulesOf, type RandomSource } from './targets.js';

const VARIABLE = 'KMS_LATENCY';
const MAX_DELAY_MS = 60_000;
/** The standard normal's 99th percentile: p99 = exp(mu + Z99 * sigma). */
const Z99 = 2.3263478740408408;

export interface LatencyPlan {
  /** Milliseconds to hold `operation`'s response; 0 when no rule covers it. Draws a fresh value per call. */
  delayMs(operation: string): number;
}

type Sampler = (random: RandomSource) => number;

const fail = (message: string): never => {
  throw new Error(`${VARIABLE}: ${message}`);
};

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000 };

function parseDuration(text: string, rule: string): number {
  const match = /^(\d+(?:\.\d+)?)(us|ms|s)$/.exec(text.trim());
  if (match === null) return fail(`"${text}" in "${rule}" is not a duration such as 5ms, 0.5s or 250us`);
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  return ms > MAX_DELAY_MS ? fail(`"${text}" in "${rule}" is over the ${MAX_DELAY_MS / 1000} s limit`) : ms;
}

/** One standard normal draw (Box-Muller); 1 - u keeps the logarithm's argument in (0, 1]. */
function standardNormal(random: RandomSource): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** mu and sigma of the log-normal whose median is p50 and whose 99th percentile is p99. */
export function logNormalParameters(p50: number, p99: number): { mu: number; sigma: number } {
  return { mu: Math.log(p50), sigma: (Math.log(p99) - Math.log(p50)) / Z99 };
}

function parseDistribution(text: string, rule: string): Sampler | undefined {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const args = colon < 0 ? '' : text.slice(colon + 1);
  switch (kind) {
    case 'off':
      return args === '' ? undefined : fail(`"off" takes no arguments in "${rule}"`);
    case 'fixed': {
      const ms = parseDuration(args, rule);
      return () => ms;
    }
    case 'uniform': {
      const bounds = args.split('..');
      if (bounds.length !== 2) return fail(`uniform needs MIN..MAX, e.g. uniform:20ms..80ms, in "${rule}"`);
      const min = parseDuration(bounds[0]!, rule);
      const max = parseDuration(bounds[1]!, rule);
      if (max < min) return fail(`uniform's maximum is below its minimum in "${rule}"`);
      return (random) => min + (max - min) * random();
    }
    case 'lognormal': {
      const match = /^p50=([^,]+),p99=([^,]+)$/.exec(args);
      if (match === null) return fail(`lognormal needs p50=D,p99=D, e.g. lognormal:p50=8ms,p99=40ms, in "${rule}"`);
      const p50 = parseDuration(match[1]!, rule);
      const p99 = parseDuration(match[2]!, rule);
      if (p50 <= 0 || p99 < p50) return fail(`lognormal needs 0 < p50 <= p99 in "${rule}"`);
      const { mu, sigma } = logNormalParameters(p50, p99);
      return (random) => Math.min(MAX_DELAY_MS, Math.exp(mu + sigma * standardNormal(random)));
    }
    default:
      return fail(`unknown distribution "${kind}" in "${rule}" (fixed, uniform, lognormal or off)`);
  }
}

/** How specific a target is: an operation's own rule beats its class's, which beats `*`. */
const specificity = (target: string): number => (target === '*' ? 0 : target === 'crypto' || target === 'management' ? 1 : 2);

/**
 * Parses KMS_LATENCY (syntax above). Throws an Error whose message starts with `KMS_LATENCY:` on bad input.
 * An empty value means no added latency.
 */
export function parseLatency(value: string, random: RandomSource = Math.random): LatencyPlan {
  // Resolved once per operation here so that delayMs is a map lookup and one draw.
  const samplers = new Map<string, { sampler: Sampler | undefined; specificity: number }>();
  for (const rule of rulesOf(value)) {
    const equals = rule.indexOf('=');
    if (equals <= 0) fail(`"${rule}" is not TARGET=DISTRIBUTION`);
    const target = rule.slice(0, equals).trim();
    const sampler = parseDistribution(rule.slice(equals + 1).trim(), rule);
    const rank = specificity(target);
    for (const operation of operationsOf(target, VARIABLE)) {
      const current = samplers.get(operation);
      if (current === undefined || rank >= current.specificity) samplers.set(operation, { sampler, specificity: rank });
    }
  }
  return {
    delayMs(operation: string): number {
      const sampler = samplers.get(operation)?.sampler;
      return sampler === undefined ? 0 : sampler(random);
    },
  };
}
