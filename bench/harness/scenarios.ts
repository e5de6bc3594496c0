// The benchmark scenarios and how a run's workload is prepared before the clock starts: which keys each
// scenario uses (keys.ts), and the distinct request bodies the load generators sign. With many keys every key
// gets its own bodies, so the requests spread evenly over them. A prepared Workload is plain data so it can be
// handed to worker threads.
import { randomBytes } from 'node:crypto';
import {
  KEY_SPECS, rsaOaepMaxPlaintext, type EncryptionAlgorithm, type KeySpec, type SigningAlgorithm,
} from '../../src/contract/key-specs.js';
import { mapConcurrent, type KmsClient } from './kms-client.js';
import { describeKeys, KeyResolver, type KeyPurpose, type KeySelection, type ResolvedKeys } from './keys.js';

export const SCENARIOS = ['encrypt', 'decrypt', 'generate-data-key', 'sign', 'verify', 'envelope'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const isScenario = (value: string): value is ScenarioName => (SCENARIOS as readonly string[]).includes(value);

export interface WeightedScenario {
  scenario: ScenarioName;
  weight: number;
}

/** `encrypt=3,decrypt=1` -> weights; a bare name weighs 1. */
export function parseMix(text: string): WeightedScenario[] {
  const mix = text.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const [name = '', weightText = '1', ...rest] = part.split('=');
    if (rest.length > 0) throw new Error(`'${part}' in --mix is not NAME or NAME=WEIGHT`);
    if (!isScenario(name)) throw new Error(`unknown scenario '${name}' in --mix (one of ${SCENARIOS.join(', ')})`);
    const weight = Number(weightText);
    if (!Number.isInteger(weight) || weight < 1) throw new Error(`weight of '${name}' in --mix must be a positive integer`);
    return { scenario: name, weight };
  });
  if (mix.length === 0) throw new Error('--mix is empty');
  const repeated = mix.find((entry, index) => mix.findIndex((other) => other.scenario === entry.scenario) !== index);
  if (repeated) throw new Error(`'${repeated.scenario}' is named twice in --mix; give it one weight`);
  return mix;
}

/** What the loader needs to send one kind of request. */
export interface WorkloadItem {
  scenario: ScenarioName;
  weight: number;
  operation: string;
  /** Distinct JSON bodies; the loader signs each once a minute. */
  bodies: string[];
  /** Envelope: after a 2xx, Decrypt the returned CiphertextBlob (signed at send time) with this context. */
  decryptFollowUp?: { encryptionContext: Record<string, string> };
}

export interface Workload {
  label: string;
  items: WorkloadItem[];
  /** Key ARN or id (or how many keys) used per scenario, for the report. */
  keys: Partial<Record<ScenarioName, string>>;
}

export interface PrepareOptions extends KeySelection {
  mix: readonly WeightedScenario[];
  keySpec?: KeySpec;
  signingAlgorithm?: SigningAlgorithm;
  payloadBytes: number;
  poolSize: number;
}

/** What each scenario needs its key for, hence which key specs suit it (keys.ts). */
export const PURPOSE: Readonly<Record<ScenarioName, KeyPurpose>> = {
  encrypt: 'encrypt', decrypt: 'encrypt', 'generate-data-key': 'data-key', envelope: 'data-key',
  sign: 'sign', verify: 'sign',
};

const ENVELOPE_CONTEXT = { purpose: 'kms-engine-bench' };
const base64Random = (bytes: number): string => randomBytes(bytes).toString('base64');

function encryptionAlgorithm(spec: KeySpec): EncryptionAlgorithm {
  return spec === 'SYMMETRIC_DEFAULT' ? 'SYMMETRIC_DEFAULT' : 'RSAES_OAEP_SHA_256';
}

function signingAlgorithm(spec: KeySpec, requested?: SigningAlgorithm): SigningAlgorithm {
  const supported = KEY_SPECS[spec].signingAlgorithms ?? [];
  if (requested) {
    if (!supported.includes(requested)) throw new Error(`--signing-algorithm ${requested} does not suit a ${spec} key`);
    return requested;
  }
  // RSA lists PKCS#1 first; PSS is what new designs use, and costs the same.
  return spec.startsWith('RSA_') ? 'RSASSA_PSS_SHA_256' : supported[0]!;
}

/** Resolves keys (creating those not given) and builds every scenario's request bodies. */
export async function prepareWorkload(client: KmsClient, options: PrepareOptions): Promise<Workload> {
  const keys = new KeyResolver(client, options);
  const items: WorkloadItem[] = [];
  const usedKeys: Workload['keys'] = {};
  for (const { scenario, weight } of options.mix) {
    const key = await keys.forPurpose(PURPOSE[scenario]);
    usedKeys[scenario] = describeKeys(key);
    items.push(await buildItem(client, scenario, weight, key, options));
  }
  const label = options.mix.length === 1 ? options.mix[0]!.scenario
    : `mix ${options.mix.map((m) => `${m.scenario}=${m.weight}`).join(',')}`;
  return { label, items, keys: usedKeys };
}

/**
 * The bodies of one scenario: at least --pool-size of them, and a whole multiple of the number of keys (one per
 * key when there are more keys than that); body i names key i mod n, so handing the bodies out round robin
 * visits every key equally often.
 */
async function buildItem(client: KmsClient, scenario: ScenarioName, weight: number, key: ResolvedKeys,
  options: PrepareOptions): Promise<WorkloadItem> {
  const keyCount = key.keyIds.length;
  const count = keyCount * Math.ceil(options.poolSize / keyCount);
  const keyOf = (index: number): string => key.keyIds[index % keyCount]!;
  const messages = (): string[] => Array.from({ length: count }, () => base64Random(options.payloadBytes));
  switch (scenario) {
    case 'encrypt':
    case 'decrypt': {
      const EncryptionAlgorithm = encryptionAlgorithm(key.spec);
      if (EncryptionAlgorithm !== 'SYMMETRIC_DEFAULT') {
        const limit = rsaOaepMaxPlaintext(KEY_SPECS[key.spec], EncryptionAlgorithm);
        if (options.payloadBytes > limit) {
          throw new Error(`--payload-bytes ${options.payloadBytes} exceeds the ${limit}-byte ${EncryptionAlgorithm} limit of ${key.spec}`);
        }
      }
      const encryptInputs = messages().map((Plaintext, i) => ({ KeyId: keyOf(i), Plaintext, EncryptionAlgorithm }));
      if (scenario === 'encrypt') return { scenario, weight, operation: 'Encrypt', bodies: encryptInputs.map((b) => JSON.stringify(b)) };
      const blobs = await mapConcurrent(encryptInputs, 16, async (input) =>
        (await client.call<{ CiphertextBlob: string }>('Encrypt', input)).CiphertextBlob);
      return { scenario, weight, operation: 'Decrypt',
        bodies: blobs.map((CiphertextBlob, i) => JSON.stringify({ CiphertextBlob, KeyId: keyOf(i), EncryptionAlgorithm })) };
    }
    // One body per key: the answer is fresh anyway, so only the key varies.
    case 'generate-data-key':
      return { scenario, weight, operation: 'GenerateDataKey',
        bodies: key.keyIds.map((KeyId) => JSON.stringify({ KeyId, KeySpec: 'AES_256' })) };
    case 'envelope':
      // As the AWS Encryption SDK does: a 32-byte data key under an encryption context, decrypted later.
      return { scenario, weight, operation: 'GenerateDataKey',
        bodies: key.keyIds.map((KeyId) => JSON.stringify({ KeyId, NumberOfBytes: 32, EncryptionContext: ENVELOPE_CONTEXT })),
        decryptFollowUp: { encryptionContext: ENVELOPE_CONTEXT } };
    case 'sign':
    case 'verify': {
      const SigningAlgorithm = signingAlgorithm(key.spec, options.signingAlgorithm);
      const signInputs = messages().map((Message, i) => ({ KeyId: keyOf(i), Message, MessageType: 'RAW', SigningAlgorithm }));
      if (scenario === 'sign') return { scenario, weight, operation: 'Sign', bodies: signInputs.map((b) => JSON.stringify(b)) };
      const signatures = await mapConcurrent(signInputs, 16, async (input) =>
        (await client.call<{ Signature: string }>('Sign', input)).Signature);
      return { scenario, weight, operation: 'Verify',
        bodies: signInputs.map((input, i) => JSON.stringify({ ...input, Signature: signatures[i] })) };
    }
  }
}
