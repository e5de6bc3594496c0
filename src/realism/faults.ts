// KMS_FAULTS: injected AWS failures per operation, so a pipeline load test exercises its clients' retry paths
// (SDKs retry all four errors below and socket resets, kms-api.md section 1.4). Off unless set.
//
//   KMS_FAULTS = RULE [; RULE]...
//   RULE       = FAULT=PROBABILITY[@TARGET[,TARGET]...]
//   FAULT      = ThrottlingException | KMSInternalException | DependencyTimeoutException
//              | KeyUnavailableException | reset
//   PROBABILITY= a number from 0 to 1 (0.01), or a percentage (1%)
//   TARGET     = crypto | management | * | <operation name>; without @ the rule covers every operation
//
// `reset` means: destroy the connection without answering (what a client sees when a load balancer drops it).
// Errors carry AWS's message for the code (messages.ts) and the code's status from the error catalogue.
// Rules add up: a request draws ONE number and gets the fault whose share of [0, 1) it falls in, so the
// probabilities covering any one operation must total at most 1. Example:
//   KMS_FAULTS="ThrottlingException=0.01@Encrypt,Decrypt;KMSInternalException=0.001;reset=0.0005"

import { RETRYABLE_ERROR_MESSAGES, type InjectableErrorCode } from './messages.js';
import { ALL_OPERATIONS, operationsOf, rulesOf, type RandomSource } from './targets.js';

const VARIABLE = 'KMS_FAULTS';

export type Fault =
  | { readonly kind: 'error'; readonly code: InjectableErrorCode; readonly message: string }
  | { readonly kind: 'reset' };

export interface FaultPlan {
  /** The fault to inject into this call of `operation`, or undefined for a normal answer. */
  draw(operation: string): Fault | undefined;
}

/** One frozen answer per fault name: draw() allocates nothing. */
const FAULTS: ReadonlyMap<string, Fault> = new Map<string, Fault>([
  ...(Object.keys(RETRYABLE_ERROR_MESSAGES) as InjectableErrorCode[]).map((code): [string, Fault] =>
    [code, Object.freeze({ kind: 'error', code, message: RETRYABLE_ERROR_MESSAGES[code] })]),
  ['reset', Object.freeze({ kind: 'reset' })],
]);

const fail = (message: string): never => {
  throw new Error(`${VARIABLE}: ${message}`);
};

function parseProbability(text: string, rule: string): number {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text);
  const probability = match === null ? Number.NaN : Number(match[1]) / (match[2] === '%' ? 100 : 1);
  if (!(probability <= 1)) return fail(`"${text}" in "${rule}" is not a probability from 0 to 1 (or 0% to 100%)`);
  return probability;
}

/** Cumulative thresholds for one operation: fault i answers when threshold[i-1] <= r < threshold[i]. */
interface Table { thresholds: number[]; faults: Fault[] }

/**
 * Parses KMS_FAULTS (syntax above). Throws an Error whose message starts with `KMS_FAULTS:` on bad input,
 * including probabilities that add up to more than 1 for some operation. An empty value injects nothing.
 */
export function parseFaults(value: string, random: RandomSource = Math.random): FaultPlan {
  const tables = new Map<string, Table>();
  for (const rule of rulesOf(value)) {
    const match = /^([A-Za-z]+)\s*=\s*([^@]+?)\s*(?:@(.+))?$/.exec(rule);
    if (match === null) return fail(`"${rule}" is not FAULT=PROBABILITY[@OPERATION,...]`);
    const [, name, probabilityText, targets] = match as unknown as [string, string, string, string | undefined];
    const fault = FAULTS.get(name) ?? fail(`unknown fault "${name}" in "${rule}" (${[...FAULTS.keys()].join(', ')})`);
    const probability = parseProbability(probabilityText, rule);
    const operations = targets === undefined
      ? ALL_OPERATIONS
      : [...new Set(targets.split(',').flatMap((target) => operationsOf(target.trim(), VARIABLE)))];
    if (probability === 0) continue;
    for (const operation of operations) {
      const table = tables.get(operation) ?? { thresholds: [], faults: [] };
      const total = (table.thresholds.at(-1) ?? 0) + probability;
      // A little slack for decimal fractions that do not add up exactly in binary (0.7 + 0.2 + 0.1).
      if (total > 1 + 1e-9) fail(`the probabilities for ${operation} add up to more than 1 (at "${rule}")`);
      table.thresholds.push(total);
      table.faults.push(fault);
      tables.set(operation, table);
    }
  }
  return {
    draw(operation: string): Fault | undefined {
      const table = tables.get(operation);
      if (table === undefined) return undefined; // uncovered operations consume no randomness
      const r = random();
      for (let i = 0; i < table.thresholds.length; i++) if (r < table.thresholds[i]!) return table.faults[i];
      return undefined;
    },
  };
}
