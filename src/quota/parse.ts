// KMS_QUOTAS (interface.md): a comma list, later items win. Items are a preset (`none`, `aws`) or
// `CLASS=RPS`. A bad item stops the server at start, so the error is one line naming the variable and item.

import { KMS_OPERATIONS, MODEL_DATA_KEY_PAIR_SPECS } from './classes.js';
import { awsPreset, dataKeyPairClass } from './presets.js';

/** Requests per second admitted per account, by quota class. A class without an entry is unlimited. */
export interface QuotaConfig {
  readonly limits: ReadonlyMap<string, number>;
}

const CRYPTO_CLASSES: ReadonlySet<string> = new Set(['symmetric', 'rsa', 'ecc', 'ml_dsa', 'ml_kem']);
const DATA_KEY_PAIR_CLASSES: ReadonlySet<string> = new Set(MODEL_DATA_KEY_PAIR_SPECS.map(dataKeyPairClass));
// A plain decimal: rejects '', 'Infinity', '1e3', '0x10' and the like that Number() would accept.
const RPS_PATTERN = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

const fail = (item: string, why: string): never => {
  throw new Error(`KMS_QUOTAS: bad item "${item}": ${why}`);
};

/**
 * Any operation name is a class. A management operation's quota is its own; a cryptographic one (Encrypt,
 * GenerateDataKeyPair, GenerateRandom, ...) still counts against its key's class, and its own limit is checked
 * in addition: a request must pass both (src/quota/charge.ts).
 */
function checkClass(item: string, quotaClass: string): void {
  if (CRYPTO_CLASSES.has(quotaClass) || DATA_KEY_PAIR_CLASSES.has(quotaClass) || KMS_OPERATIONS.has(quotaClass)) return;
  if (quotaClass.startsWith('datakeypair:')) {
    fail(item, `unknown KeyPairSpec (expected one of ${MODEL_DATA_KEY_PAIR_SPECS.join(', ')})`);
  }
  fail(item, 'unknown quota class (expected symmetric, rsa, ecc, ml_dsa, ml_kem, datakeypair:<KeyPairSpec> or an operation name)');
}

/** Parses KMS_QUOTAS for a Region. Throws an Error naming KMS_QUOTAS and the first bad item. */
export function parseQuotas(value: string, region: string): QuotaConfig {
  const limits = new Map<string, number>();
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === 'none') {
      limits.clear();
    } else if (item === 'aws') {
      for (const [quotaClass, rps] of awsPreset(region)) limits.set(quotaClass, rps);
    } else {
      const equals = item.indexOf('=');
      if (equals < 0) fail(item, item === '' ? 'empty item' : 'expected a preset (none, aws) or CLASS=RPS');
      const quotaClass = item.slice(0, equals).trim();
      const rpsText = item.slice(equals + 1).trim();
      checkClass(item, quotaClass);
      const rps = Number(rpsText);
      if (!RPS_PATTERN.test(rpsText) || !(rps > 0)) fail(item, 'RPS must be a positive number of requests per second');
      limits.set(quotaClass, rps);
    }
  }
  return { limits };
}
