// The condition keys a request carries into policy evaluation (kms-api.md 8.3). Request parameters that
// were omitted count with their defaults ("a request-parameter condition also matches when the parameter
// is omitted and its default applies"), so `kms:EncryptionAlgorithm: SYMMETRIC_DEFAULT` holds for a plain
// Encrypt.
import { isMultiRegionKeyId } from '../contract/key-ids.js';
import type { KeyRecord, Tag } from '../store/types.js';
import type { Principal } from './identities.js';
import { principalIdOf } from './principal-id.js';
import type { ConditionContext } from './policy/condition.js';

/** What the condition keys read of a key: a stored key, or the one a CreateKey request describes. */
export type ConditionKeySubject = Pick<KeyRecord, 'keyId' | 'spec' | 'usage' | 'origin' | 'tags'> & { readonly account?: string };

export interface ConditionKeyExtras {
  /** The alias the caller named the key by (`alias/...`), for kms:RequestAlias. */
  requestAlias?: string;
  /** ReEncrypt: whether source and destination are the same key. */
  reEncryptOnSameKey?: boolean;
  /** CreateGrant: the requested operations, when not read from `input.Operations`. */
  grantOperations?: string[];
  /** The aliases of the key (kms:ResourceAliases), when a policy tests them; read from the store by the caller. */
  resourceAliases?: readonly string[];
  /** The caller's address as the socket gave it (aws:SourceIp). */
  sourceIp?: string;
  /** Whether the request came over HTTPS (aws:SecureTransport); left out when unknown. */
  secureTransport?: boolean;
  /** The Region the request was sent to (aws:RequestedRegion): the engine's KMS_REGION. */
  requestedRegion?: string;
  /** The account owning the resource when it is not a key (an alias ARN), for aws:ResourceAccount. */
  resourceAccount?: string;
}

/** aws:userid per principal (a digest of its ARN, principal-id.ts), computed once: Principal objects live as long as the process. */
const userIds = new WeakMap<Principal, string | undefined>();
function userIdOf(principal: Principal): string | undefined {
  if (!userIds.has(principal)) userIds.set(principal, principalIdOf(principal.type, principal.arn, principal.accountId));
  return userIds.get(principal);
}

/** aws:PrincipalType as IAM sets it: the root user is the `Account`. */
const PRINCIPAL_TYPE: Readonly<Record<Principal['type'], string>> = { Root: 'Account', IAMUser: 'User', AssumedRole: 'AssumedRole' };

/** Records one condition key; undefined values (parameter absent, no default) are skipped. */
type Put = (name: string, value: string | readonly string[] | undefined) => void;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const bool = (value: unknown, fallback: boolean): string => String(typeof value === 'boolean' ? value : fallback);
const num = (value: unknown, fallback: number): string => String(typeof value === 'number' ? value : fallback);
/** A JSON string map (EncryptionContext) as given, or undefined when absent, empty or not all strings. */
const stringMap = (value: unknown): Readonly<Record<string, string>> | undefined => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  let empty = true;
  for (const name in value) {
    if (typeof (value as Record<string, unknown>)[name] !== 'string') return undefined;
    empty = false;
  }
  return empty ? undefined : value as Readonly<Record<string, string>>;
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

function encryptionContextOf(operation: string, input: Record<string, unknown>): Readonly<Record<string, string>> | undefined {
  if (operation === 'CreateGrant') {
    const constraints = input.Constraints as Record<string, unknown> | undefined;
    return stringMap(constraints?.EncryptionContextEquals) ?? stringMap(constraints?.EncryptionContextSubset);
  }
  const field = ENCRYPTION_CONTEXT_FIELD[operation];
  return field === undefined ? undefined : stringMap(input[field]);
}

/** The `Tags` a request sets (CreateKey, TagResource), as given; undefined when there are none. */
const requestTags = (input: Record<string, unknown>): readonly Tag[] | undefined =>
  Array.isArray(input.Tags) && input.Tags.length > 0 ? input.Tags as Tag[] : undefined;

/**
 * Attribute-based access control (AWS's ABAC for KMS): `aws:ResourceTag/<key>` for the key's own tags on every
 * operation on a key, `aws:RequestTag/<key>` and `aws:TagKeys` for the tags CreateKey, TagResource and
 * UntagResource ask to set or remove. Tag keys are part of the condition key name, which is case-insensitive.
 */
function tagKeys(values: Map<string, readonly string[]>, put: Put, operation: string, input: Record<string, unknown>,
  key: ConditionKeySubject | undefined): void {
  if (key && operation !== 'CreateKey') {
    for (const tag of key.tags) values.set(`aws:resourcetag/${tag.TagKey.toLowerCase()}`, [tag.TagValue]);
  }
  if (operation === 'CreateKey' || operation === 'TagResource') {
    const tags = requestTags(input);
    if (tags === undefined) return;
    for (const tag of tags) values.set(`aws:requesttag/${tag.TagKey.toLowerCase()}`, [tag.TagValue]);
    put('aws:TagKeys', tags.map((tag) => tag.TagKey));
  } else if (operation === 'UntagResource' && Array.isArray(input.TagKeys) && input.TagKeys.length > 0) {
    put('aws:TagKeys', input.TagKeys as string[]);
  }
}

function keyProperties(put: Put, operation: string, input: Record<string, unknown>, key: ConditionKeySubject | undefined): void {
  if (operation === 'CreateKey') {
    const spec = str(input.KeySpec) ?? str(input.CustomerMasterKeySpec) ?? 'SYMMETRIC_DEFAULT';
    const usage = str(input.KeyUsage) ?? 'ENCRYPT_DECRYPT';
    put('kms:KeySpec', spec);
    put('kms:CustomerMasterKeySpec', spec);
    put('kms:KeyUsage', usage);
    put('kms:CustomerMasterKeyUsage', usage);
    put('kms:KeyOrigin', str(input.Origin) ?? 'AWS_KMS');
    put('kms:MultiRegion', bool(input.MultiRegion, false));
    if (input.MultiRegion === true) put('kms:MultiRegionKeyType', 'PRIMARY');
    return;
  }
  if (!key) return;
  put('kms:KeySpec', key.spec);
  put('kms:CustomerMasterKeySpec', key.spec);
  put('kms:KeyUsage', key.usage);
  put('kms:CustomerMasterKeyUsage', key.usage);
  put('kms:KeyOrigin', key.origin);
  // Every multi-Region key here is a primary (keys/metadata.ts).
  const multiRegion = isMultiRegionKeyId(key.keyId);
  put('kms:MultiRegion', String(multiRegion));
  if (multiRegion) put('kms:MultiRegionKeyType', 'PRIMARY');
}

function requestParameters(put: Put, operation: string, input: Record<string, unknown>, extras: ConditionKeyExtras): void {
  const algorithmField = ENCRYPTION_ALGORITHM_FIELD[operation];
  if (algorithmField !== undefined) {
    put('kms:EncryptionAlgorithm', (algorithmField && str(input[algorithmField])) || 'SYMMETRIC_DEFAULT');
  }
  switch (operation) {
    case 'Sign': case 'Verify':
      put('kms:SigningAlgorithm', str(input.SigningAlgorithm));
      put('kms:MessageType', str(input.MessageType) ?? 'RAW');
      break;
    case 'GenerateMac': case 'VerifyMac':
      put('kms:MacAlgorithm', str(input.MacAlgorithm));
      break;
    case 'DeriveSharedSecret':
      put('kms:KeyAgreementAlgorithm', str(input.KeyAgreementAlgorithm));
      break;
    case 'GenerateDataKeyPair': case 'GenerateDataKeyPairWithoutPlaintext':
      put('kms:DataKeyPairSpec', str(input.KeyPairSpec));
      break;
    case 'CreateGrant': {
      const operations = extras.grantOperations
        ?? (Array.isArray(input.Operations) ? input.Operations.filter((op): op is string => typeof op === 'string') : undefined);
      put('kms:GrantOperations', operations);
      put('kms:GranteePrincipal', str(input.GranteePrincipal));
      put('kms:RetiringPrincipal', str(input.RetiringPrincipal));
      const constraints = input.Constraints as Record<string, unknown> | undefined;
      const constraintTypes = ['EncryptionContextEquals', 'EncryptionContextSubset'].filter((type) => constraints?.[type] !== undefined);
      put('kms:GrantConstraintType', constraintTypes.length > 0 ? constraintTypes : undefined);
      put('kms:GrantIsForAWSResource', 'false');
      break;
    }
    case 'ListGrants': case 'RevokeGrant':
      put('kms:GrantIsForAWSResource', 'false');
      break;
    case 'CreateKey': case 'PutKeyPolicy':
      put('kms:BypassPolicyLockoutSafetyCheck', bool(input.BypassPolicyLockoutSafetyCheck, false));
      break;
    case 'ScheduleKeyDeletion':
      put('kms:ScheduleKeyDeletionPendingWindowInDays', num(input.PendingWindowInDays, 30));
      break;
    case 'EnableKeyRotation':
      put('kms:RotationPeriodInDays', num(input.RotationPeriodInDays, 365));
      break;
    case 'GetParametersForImport':
      put('kms:WrappingAlgorithm', str(input.WrappingAlgorithm));
      put('kms:WrappingKeySpec', str(input.WrappingKeySpec));
      break;
    case 'ImportKeyMaterial':
      put('kms:ExpirationModel', str(input.ExpirationModel) ?? 'KEY_MATERIAL_EXPIRES');
      put('kms:ValidTo', typeof input.ValidTo === 'number' ? String(input.ValidTo) : undefined);
      break;
    // The Region a policy may allow or deny replicating into, or promoting: checked before the engine refuses
    // the other Region, so a policy's refusal is the AccessDeniedException AWS would give.
    case 'ReplicateKey':
      put('kms:ReplicaRegion', str(input.ReplicaRegion));
      break;
    case 'UpdatePrimaryRegion':
      put('kms:PrimaryRegion', str(input.PrimaryRegion));
      break;
  }
  if (operation.startsWith('ReEncrypt') && extras.reEncryptOnSameKey !== undefined) {
    put('kms:ReEncryptOnSameKey', String(extras.reEncryptOnSameKey));
  }
  if (extras.requestAlias !== undefined) put('kms:RequestAlias', extras.requestAlias);
  if (extras.resourceAliases !== undefined && extras.resourceAliases.length > 0) put('kms:ResourceAliases', extras.resourceAliases);
}

/**
 * The lowercase form of a condition key name written in this module (a fixed set), computed once: lowercasing
 * ~15 names per evaluated request was most of the cost of a conditional policy. Names built from request
 * data (encryption context keys) must not come here, or the cache would grow with every request.
 */
const lowercaseNames = new Map<string, string>();
function staticKeyName(name: string): string {
  let lower = lowercaseNames.get(name);
  if (lower === undefined) lowercaseNames.set(name, lower = name.toLowerCase());
  return lower;
}

/**
 * Condition keys are computed on first use: with condition-free policies (the default key policy) the
 * authorizer never reads them, so the hot path pays only for this object.
 */
class RequestConditionContext implements ConditionContext {
  #values: Map<string, readonly string[]> | undefined;
  readonly encryptionContext?: Readonly<Record<string, string>>;

  constructor(private readonly operation: string, private readonly input: Record<string, unknown>,
    private readonly key: ConditionKeySubject | undefined, private readonly principal: Principal,
    private readonly extras: ConditionKeyExtras) {
    const encryptionContext = encryptionContextOf(operation, input);
    if (encryptionContext) this.encryptionContext = encryptionContext;
  }

  get values(): ReadonlyMap<string, readonly string[]> {
    return this.#values ??= this.#build();
  }

  #build(): Map<string, readonly string[]> {
    const values = new Map<string, readonly string[]>();
    const put: Put = (name, value) => {
      if (value !== undefined) values.set(staticKeyName(name), typeof value === 'string' ? [value] : value);
    };
    const { principal } = this;
    // IAM gives an assumed-role session's role ARN here, not the session's (policies name roles, not sessions).
    put('aws:PrincipalArn', principal.roleArn ?? principal.arn);
    put('aws:PrincipalAccount', principal.accountId);
    put('aws:PrincipalType', PRINCIPAL_TYPE[principal.type]);
    put('aws:username', principal.userName);
    // The caller's unique id, as CloudTrail's principalId: the account for a root, AIDA... for a user, AROA...:session.
    put('aws:userid', userIdOf(principal));
    put('kms:CallerAccount', principal.accountId);
    // An IPv4 caller on a dual-stack socket shows as ::ffff:a.b.c.d; policies name it a.b.c.d.
    put('aws:SourceIp', this.extras.sourceIp?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, ''));
    put('aws:RequestedRegion', this.extras.requestedRegion);
    put('aws:SecureTransport', this.extras.secureTransport === undefined ? undefined : String(this.extras.secureTransport));
    // IAM sets both on every request; no caller of this engine is an AWS service or calls through one. Absent,
    // the data-perimeter deny (`NotIpAddress` + `Bool aws:ViaAWSService false`) would never apply.
    put('aws:PrincipalIsAWSService', 'false');
    put('aws:ViaAWSService', 'false');
    // Present only for temporary credentials (a role session, or a key configured with a session token), and
    // false here: no session of this engine was issued with MFA. Long-term keys leave it absent, as in IAM.
    if (principal.type === 'AssumedRole' || principal.sessionToken !== undefined) put('aws:MultiFactorAuthPresent', 'false');
    // Global keys IAM sets on every request: the time it is evaluated, as ISO 8601 and as epoch seconds.
    const now = new Date();
    put('aws:CurrentTime', `${now.toISOString().slice(0, 19)}Z`);
    put('aws:EpochTime', String(Math.floor(now.getTime() / 1000)));
    const encryptionContext = this.encryptionContext;
    if (encryptionContext) {
      const names = Object.keys(encryptionContext);
      put('kms:EncryptionContextKeys', names);
      // The context key is part of the condition key name, which is case-insensitive: lowercased like the rest.
      for (const name of names) values.set(`kms:encryptioncontext:${name.toLowerCase()}`, [encryptionContext[name]!]);
    }
    // IAM sets it on every call on a resource: the account owning the key or alias (not a cross-account caller's).
    put('aws:ResourceAccount', this.key?.account ?? this.extras.resourceAccount);
    keyProperties(put, this.operation, this.input, this.key);
    tagKeys(values, put, this.operation, this.input, this.key);
    requestParameters(put, this.operation, this.input, this.extras);
    return values;
  }
}

/**
 * The condition keys of one request. `operation` is the KMS operation name; ReEncrypt is authorized twice,
 * pass 'ReEncryptFrom' (source key, SourceEncryptionContext) and 'ReEncryptTo' (destination key,
 * DestinationEncryptionContext). `key` is the resolved key (undefined for CreateKey and key-less operations).
 * `input` must not be mutated afterwards: the keys are read from it lazily.
 */
export function conditionKeysFor(operation: string, input: Record<string, unknown>, key: ConditionKeySubject | undefined,
  principal: Principal, extras: ConditionKeyExtras = {}): ConditionContext {
  return new RequestConditionContext(operation, input, key, principal, extras);
}
