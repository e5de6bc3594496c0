// Which keys a run uses, per purpose (encrypt/decrypt, data keys, sign/verify): one given key (--key-id), a list
// of given keys (--key-ids FILE), N keys of a suitable spec found with ListKeys and created where too few exist
// (--keys N), or else one new key per spec. Many keys spread the requests: the workload gives each key its own
// pre-signed bodies (scenarios.ts).
import { readFileSync } from 'node:fs';
import { KEY_SPECS, isKeySpec, type KeySpec } from '../../src/contract/key-specs.js';
import { KmsCallError, mapConcurrent, type KmsClient } from './kms-client.js';

export type KeyPurpose = 'encrypt' | 'data-key' | 'sign';

/** At most one of these; none means "create one key per spec". */
export interface KeySelection {
  keyId?: string;
  keyIds?: readonly string[];
  keyCount?: number;
}

export interface ResolvedKeys {
  /** ARNs or ids, as given or as ListKeys/CreateKey answered; never empty. */
  keyIds: string[];
  spec: KeySpec;
}

export const DEFAULT_SPEC: Record<KeyPurpose, KeySpec> = { encrypt: 'SYMMETRIC_DEFAULT', 'data-key': 'SYMMETRIC_DEFAULT',
  sign: 'ECC_NIST_P256' };

export const suits = (spec: KeySpec, purpose: KeyPurpose): boolean =>
  purpose === 'data-key' ? spec === 'SYMMETRIC_DEFAULT'
    : purpose === 'sign' ? (KEY_SPECS[spec].signingAlgorithms?.length ?? 0) > 0
      : (KEY_SPECS[spec].encryptionAlgorithms?.length ?? 0) > 0;

const usageFor = (purpose: KeyPurpose): string => (purpose === 'sign' ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT');

/** A key ids file: one key id, ARN or alias per line; blank lines and `#` comments skipped. */
export function readKeyIdsFile(file: string): string[] {
  const ids = readFileSync(file, 'utf8').split(/\r?\n/).map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (ids.length === 0) throw new Error(`${file} lists no key ids`);
  return [...new Set(ids)];
}

/** How a run's keys are described in its report: the key, or how many and the first. */
export const describeKeys = (keys: ResolvedKeys): string =>
  keys.keyIds.length === 1 ? keys.keyIds[0]! : `${keys.keyIds.length} keys (${keys.keyIds[0]}, ...)`;

interface KeyListing {
  Keys?: { KeyId: string; KeyArn?: string }[];
  NextMarker?: string;
  Truncated?: boolean;
}

interface KeyMetadata {
  KeySpec?: string;
  KeyUsage?: string;
  KeyState?: string;
  KeyManager?: string;
  Arn?: string;
  KeyId: string;
}

/** Finds or creates the keys of each purpose once per spec. */
export class KeyResolver {
  private readonly bySpec = new Map<KeySpec, ResolvedKeys>();
  private given?: ResolvedKeys | null;

  constructor(private readonly client: KmsClient, private readonly selection: KeySelection & { keySpec?: KeySpec }) {}

  async forPurpose(purpose: KeyPurpose): Promise<ResolvedKeys> {
    const given = await this.givenKeys(purpose);
    if (given && suits(given.spec, purpose)) return given;
    const { keySpec } = this.selection;
    const spec = keySpec && suits(keySpec, purpose) ? keySpec : DEFAULT_SPEC[purpose];
    let keys = this.bySpec.get(spec);
    if (!keys) {
      const count = this.selection.keyCount;
      const keyIds = count === undefined ? [await this.create(spec, purpose)] : await this.findOrCreate(spec, purpose, count);
      keys = { keyIds, spec };
      this.bySpec.set(spec, keys);
    }
    return keys;
  }

  /**
   * --key-id or --key-ids, with the spec DescribeKey gives for the first (a list is taken to be of one spec),
   * or --key-spec / the purpose's default if DescribeKey is denied.
   */
  private async givenKeys(purpose: KeyPurpose): Promise<ResolvedKeys | null> {
    if (this.given !== undefined) return this.given;
    const keyIds = this.selection.keyIds ?? (this.selection.keyId ? [this.selection.keyId] : []);
    if (keyIds.length === 0) return (this.given = null);
    let spec: KeySpec = this.selection.keySpec ?? DEFAULT_SPEC[purpose];
    try {
      // An endpoint that answers without KeyMetadata (a stub, a proxy) leaves the spec as given.
      const out = await this.client.call<{ KeyMetadata?: KeyMetadata }>('DescribeKey', { KeyId: keyIds[0] });
      const described = out.KeyMetadata?.KeySpec;
      if (described && isKeySpec(described)) spec = described;
    } catch (error) {
      if (!(error instanceof KmsCallError)) throw error;
    }
    return (this.given = { keyIds: [...keyIds], spec });
  }

  private async create(spec: KeySpec, purpose: KeyPurpose): Promise<string> {
    const out = await this.client.call<{ KeyMetadata?: KeyMetadata }>('CreateKey', {
      KeySpec: spec, KeyUsage: usageFor(purpose), Description: 'kms-engine bench',
    });
    const created = out.KeyMetadata?.Arn ?? out.KeyMetadata?.KeyId;
    if (!created) throw new Error(`CreateKey to ${this.client.target.endpoint} answered without KeyMetadata.KeyId; give --key-id`);
    return created;
  }

  /** `count` enabled customer keys of `spec` and the purpose's usage: listed page by page, the rest created. */
  private async findOrCreate(spec: KeySpec, purpose: KeyPurpose, count: number): Promise<string[]> {
    const found: string[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.call<KeyListing>('ListKeys', { Limit: 1000, ...(marker ? { Marker: marker } : {}) });
      const candidates = page.Keys ?? [];
      const described = await mapConcurrent(candidates, 16, async ({ KeyId, KeyArn }) => {
        try {
          return (await this.client.call<{ KeyMetadata: KeyMetadata }>('DescribeKey', { KeyId: KeyArn ?? KeyId })).KeyMetadata;
        } catch (error) {
          if (error instanceof KmsCallError) return undefined; // not ours to use (denied, pending deletion...)
          throw error;
        }
      });
      for (const metadata of described) {
        if (found.length >= count) break;
        if (metadata && metadata.KeySpec === spec && metadata.KeyUsage === usageFor(purpose)
          && metadata.KeyState === 'Enabled' && (metadata.KeyManager ?? 'CUSTOMER') === 'CUSTOMER') {
          found.push(metadata.Arn ?? metadata.KeyId);
        }
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker && found.length < count);
    const missing = Array.from({ length: count - found.length }, () => spec);
    return [...found, ...await mapConcurrent(missing, 8, (s) => this.create(s, purpose))];
  }
}
