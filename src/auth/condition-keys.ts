// The condition keys a request carries into policy evaluation (kms-api.md 8.3). Request parameters that
// were omitted count with their defaults ("a request-parameter condition also matches when the parameter
// is omitted and its default applies"), so `kms:EncryptionAlgorithm: SYMMETRIC_DEFAULT` holds for a plain
// Encrypt.
import type { KeyRecord } from '../store/types.js';
import type { Principal } from './identities.js';
import { createConditionContext, type ConditionContext } from './policy/condition.js';

export interface ConditionKeyExtras {
  /** The alias the caller named the key by (`alias/...`), for kms:RequestAlias. */
  requestAlias?: string;
  /** ReEncrypt: whether source and destination are the same key. */
  reEncryptOnSameKey?: boolean;
  /** CreateGrant: the requested operations, when not read from `input.Operations`. */
  grantOperations?: string[];
}

type Entry = readonly [string, string | readonly string[] | undefined];

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const bool = (value: unknown, fallback: boolean): string => String(typeof value === 'boolean' ? value : fallback);
const num = (value: unknown, fallback: number): string => String(typeof value === 'number' ? value : fallback);
const stringMap = (value: unknown): Record<string, string> | undefined => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string');
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
};

/** Operations whose request EncryptionContext (or, for CreateGrant, constraint context) is a condition key. */
const ENCRYPTION_CONTEXT_FIELD: Readonly<Record<string, string>> = {
  Encrypt: 'EncryptionContext', Decrypt: 'EncryptionContext',
  GenerateDataKey: 'EncryptionContext', GenerateDataKeyWithoutPlaintext: 'EncryptionContext',
  GenerateDataKeyPair: 'EncryptionContext', GenerateDataKeyPairWithoutPlaintext: 'EncryptionContext',
  ReEncrypt: 'SourceEncryptionContext', ReEncryptFrom: 'SourceEncryptionContext', ReEncryptTo: 'DestinationEncryptionContext',
};

/** Where kms:EncryptionAlgorithm comes from; data-key operations always use SYMMETRIC_DEFAULT. */
const ENCRYPTION_ALGORITHM_FIELD: Readonly<Record<string, string | null>> = {
  Encrypt: 'EncryptionAlgorithm', Decrypt: 'EncryptionAlgorithm',
  ReEncrypt: 'SourceEncryptionAlgorithm', ReEncryptFrom: 'SourceEncryptionAlgorithm', ReEncryptTo: 'DestinationEncryptionAlgorithm',
  GenerateDataKey: null, GenerateDataKeyWithoutPlaintext: null,
  GenerateDataKeyPair: null, GenerateDataKeyPairWithoutPlaintext: null,
};

function encryptionContextOf(operation: string, input: Record<string, unknown>): Record<string, string> | undefined {
  if (operation === 'CreateGrant') {
    const constraints = input.Constraints as Record<string, unknown> | undefined;
    return stringMap(constraints?.EncryptionContextEquals) ?? stringMap(constraints?.EncryptionContextSubset);
  }
  const field = ENCRYPTION_CONTEXT_FIELD[operation];
  return field === undefined ? undefined : stringMap(input[field]);
}

function* keyProperties(operation: string, input: Record<string, unknown>, key: KeyRecord | undefined): Generator<Entry> {
  if (operation === 'CreateKey') {
    const spec = str(input.KeySpec) ?? str(input.CustomerMasterKeySpec) ?? 'SYMMETRIC_DEFAULT';
    const usage = str(input.KeyUsage) ?? 'ENCRYPT_DECRYPT';
    yield ['kms:KeySpec', spec];
    yield ['kms:CustomerMasterKeySpec', spec];
    yield ['kms:KeyUsage', usage];
    yield ['kms:CustomerMasterKeyUsage', usage];
    yield ['kms:KeyOrigin', str(input.Origin) ?? 'AWS_KMS'];
    yield ['kms:MultiRegion', bool(input.MultiRegion, false)];
    return;
  }
  if (!key) return;
  yield ['kms:KeySpec', key.spec];
  yield ['kms:CustomerMasterKeySpec', key.spec];
  yield ['kms:KeyUsage', key.usage];
  yield ['kms:CustomerMasterKeyUsage', key.usage];
  yield ['kms:KeyOrigin', key.origin];
  yield ['kms:MultiRegion', 'false'];
}

function* requestParameters(operation: string, input: Record<string, unknown>, extras: ConditionKeyExtras): Generator<Entry> {
  const algorithmField = ENCRYPTION_ALGORITHM_FIELD[operation];
  if (algorithmField !== undefined) {
    yield ['kms:EncryptionAlgorithm', (algorithmField && str(input[algorithmField])) || 'SYMMETRIC_DEFAULT'];
  }
  switch (operation) {
    case 'Sign': case 'Verify':
      yield ['kms:SigningAlgorithm', str(input.SigningAlgorithm)];
      yield ['kms:MessageType', str(input.MessageType) ?? 'RAW'];
      break;
    case 'GenerateMac': case 'VerifyMac':
      yield ['kms:MacAlgorithm', str(input.MacAlgorithm)];
      break;
    case 'DeriveSharedSecret':
      yield ['kms:KeyAgreementAlgorithm', str(input.KeyAgreementAlgorithm)];
      break;
    case 'GenerateDataKeyPair': case 'GenerateDataKeyPairWithoutPlaintext':
      yield ['kms:DataKeyPairSpec', str(input.KeyPairSpec)];
      break;
    case 'CreateGrant': {
      const operations = extras.grantOperations
        ?? (Array.isArray(input.Operations) ? input.Operations.filter((op): op is string => typeof op === 'string') : undefined);
      yield ['kms:GrantOperations', operations];
      yield ['kms:GranteePrincipal', str(input.GranteePrincipal)];
      yield ['kms:RetiringPrincipal', str(input.RetiringPrincipal)];
      const constraints = input.Constraints as Record<string, unknown> | undefined;
      const constraintTypes = ['EncryptionContextEquals', 'EncryptionContextSubset'].filter((type) => constraints?.[type] !== undefined);
      yield ['kms:GrantConstraintType', constraintTypes.length > 0 ? constraintTypes : undefined];
      yield ['kms:GrantIsForAWSResource', 'false'];
      break;
    }
    case 'ListGrants': case 'RevokeGrant':
      yield ['kms:GrantIsForAWSResource', 'false'];
      break;
    case 'CreateKey': case 'PutKeyPolicy':
      yield ['kms:BypassPolicyLockoutSafetyCheck', bool(input.BypassPolicyLockoutSafetyCheck, false)];
      break;
    case 'ScheduleKeyDeletion':
      yield ['kms:ScheduleKeyDeletionPendingWindowInDays', num(input.PendingWindowInDays, 30)];
      break;
    case 'EnableKeyRotation':
      yield ['kms:RotationPeriodInDays', num(input.RotationPeriodInDays, 365)];
      break;
    case 'GetParametersForImport':
      yield ['kms:WrappingAlgorithm', str(input.WrappingAlgorithm)];
      yield ['kms:WrappingKeySpec', str(input.WrappingKeySpec)];
      break;
    case 'ImportKeyMaterial':
      yield ['kms:ExpirationModel', str(input.ExpirationModel) ?? 'KEY_MATERIAL_EXPIRES'];
      yield ['kms:ValidTo', typeof input.ValidTo === 'number' ? String(input.ValidTo) : undefined];
      break;
  }
  if (operation.startsWith('ReEncrypt') && extras.reEncryptOnSameKey !== undefined) {
    yield ['kms:ReEncryptOnSameKey', String(extras.reEncryptOnSameKey)];
  }
  if (extras.requestAlias !== undefined) yield ['kms:RequestAlias', extras.requestAlias];
}

/**
 * The condition keys of one request. `operation` is the KMS operation name; ReEncrypt is authorized twice,
 * pass 'ReEncryptFrom' (source key, SourceEncryptionContext) and 'ReEncryptTo' (destination key,
 * DestinationEncryptionContext). `key` is the resolved key (undefined for CreateKey and key-less operations).
 */
export function conditionKeysFor(operation: string, input: Record<string, unknown>, key: KeyRecord | undefined,
  principal: Principal, extras: ConditionKeyExtras = {}): ConditionContext {
  const entries: Entry[] = [
    ['aws:PrincipalArn', principal.arn],
    ['aws:PrincipalAccount', principal.accountId],
    ['aws:PrincipalType', principal.type === 'IAMUser' ? 'User' : principal.type],
    ['aws:username', principal.userName],
    ['kms:CallerAccount', principal.accountId],
  ];
  const encryptionContext = encryptionContextOf(operation, input);
  if (encryptionContext) {
    const keys = Object.keys(encryptionContext);
    entries.push(['kms:EncryptionContextKeys', keys]);
    // The context key is part of the condition key name, which is case-insensitive (createConditionContext lowercases it).
    for (const name of keys) entries.push([`kms:EncryptionContext:${name}`, encryptionContext[name]]);
  }
  for (const entry of keyProperties(operation, input, key)) entries.push(entry);
  for (const entry of requestParameters(operation, input, extras)) entries.push(entry);
  return createConditionContext(entries, encryptionContext);
}
