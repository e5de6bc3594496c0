// Grants (kms-api.md 8.4): which operations a grant may carry for a key, whether a set of grants allows
// a request, grant ids and grant tokens. Pure functions: the store holds the GrantRecords.
import { randomBytes } from 'node:crypto';
import { KEY_SPECS } from '../contract/key-specs.js';
import { isKeyId } from '../keys/identifiers.js';
import { KmsError } from '../protocol/errors.js';
import type { GrantConstraints, GrantRecord, KeyRecord } from '../store/types.js';
import type { Principal } from './identities.js';
import { isAccountId, isFederatedUserArn, parsePrincipalArn, principalIsNamedBy } from './policy/principal-arn.js';

/** Every GrantOperation value (kms-service-model.json plus Encapsulate/Decapsulate from JS SDK 3.1164). */
export const GRANT_OPERATIONS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'Sign',
  'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret', 'Encapsulate', 'Decapsulate',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

const GRANT_OPERATION_SET: ReadonlySet<string> = new Set(GRANT_OPERATIONS);
const ANY_KEY: readonly GrantOperation[] = ['DescribeKey', 'CreateGrant', 'RetireGrant'];

/** Operations that take an EncryptionContext: the only ones grant constraints restrict. */
const USES_ENCRYPTION_CONTEXT: ReadonlySet<string> = new Set([
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
]);

/** The grant operations a key of this spec and usage supports (no Sign on symmetric, no data keys on RSA, ...). */
export function grantOperationsFor(key: Pick<KeyRecord, 'spec' | 'usage'>): readonly GrantOperation[] {
  const family = KEY_SPECS[key.spec].family;
  switch (key.usage) {
    case 'ENCRYPT_DECRYPT':
      return family === 'symmetric'
        ? [...ANY_KEY, 'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
          'GenerateDataKeyPairWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo']
        : [...ANY_KEY, 'Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey'];
    case 'SIGN_VERIFY': return [...ANY_KEY, 'Sign', 'Verify', 'GetPublicKey'];
    case 'GENERATE_VERIFY_MAC': return [...ANY_KEY, 'GenerateMac', 'VerifyMac'];
    case 'KEY_AGREEMENT': return [...ANY_KEY, 'DeriveSharedSecret', 'GetPublicKey'];
    case 'ENCAPSULATE_DECAPSULATE': return [...ANY_KEY, 'Encapsulate', 'Decapsulate', 'GetPublicKey'];
  }
}

/** Grant constraint limits (kms-api.md section 5.1): encryption context pairs per constraint, characters per entry. */
const MAX_CONSTRAINT_PAIRS = 8;
const MAX_CONSTRAINT_CHARS = 384;

const validation = (message: string): KmsError => new KmsError('ValidationException', message);

/**
 * CreateGrant's checks on Operations and Constraints for this key. Throws ValidationException with
 * AWS-style text; never mentions key material.
 */
export function validateGrantRequest(key: Pick<KeyRecord, 'spec' | 'usage'>, operations: readonly string[],
  constraints?: GrantConstraints): void {
  if (operations.length === 0) {
    throw validation("1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1");
  }
  const unknown = operations.filter((op) => !GRANT_OPERATION_SET.has(op));
  if (unknown.length > 0) {
    throw validation(`1 validation error detected: Value '[${operations.join(', ')}]' at 'operations' failed to satisfy constraint: `
      + `Member must satisfy constraint: [Member must satisfy enum value set: [${GRANT_OPERATIONS.join(', ')}]]`);
  }
  if (operations.every((op) => op === 'CreateGrant')) throw validation('Grants must not contain only the CreateGrant operation.');
  const supported = new Set<string>(grantOperationsFor(key));
  const unsupported = operations.filter((op) => !supported.has(op));
  if (unsupported.length > 0) {
    throw validation(`Grant operations [${unsupported.join(', ')}] are not supported by a KMS key with KeySpec ${key.spec} and KeyUsage ${key.usage}.`);
  }
  const hasContextConstraint = constraints?.EncryptionContextEquals !== undefined || constraints?.EncryptionContextSubset !== undefined;
  if (hasContextConstraint && KEY_SPECS[key.spec].family !== 'symmetric') {
    throw validation('Encryption context grant constraints are supported only on symmetric encryption KMS keys.');
  }
  for (const [member, context] of [['encryptionContextEquals', constraints?.EncryptionContextEquals],
    ['encryptionContextSubset', constraints?.EncryptionContextSubset]] as const) {
    if (context === undefined) continue;
    const pairs = Object.entries(context);
    if (pairs.length > MAX_CONSTRAINT_PAIRS) {
      throw validation(`1 validation error detected: Value at 'constraints.${member}' failed to satisfy constraint: Member must have at most ${MAX_CONSTRAINT_PAIRS} entries`);
    }
    if (pairs.some(([name, value]) => name.length > MAX_CONSTRAINT_CHARS || value.length > MAX_CONSTRAINT_CHARS)) {
      throw validation(`1 validation error detected: Value at 'constraints.${member}' failed to satisfy constraint: Member must have keys and values of at most ${MAX_CONSTRAINT_CHARS} characters`);
    }
  }
}

/**
 * A grant carries at most one encryption context constraint: AWS refuses EncryptionContextEquals together with
 * EncryptionContextSubset with this message rather than apply both (an empty map present counts, as in AWS).
 * Checked before the key is looked up, like the other rules on the request's own shape.
 */
export function checkOneContextConstraint(constraints: GrantConstraints | undefined): void {
  if (constraints?.EncryptionContextEquals !== undefined && constraints.EncryptionContextSubset !== undefined) {
    throw validation('More than one constraint supplied');
  }
}

// In a grant constraint "the key in each key-value pair is not case sensitive, but the value is case sensitive"
// (AWS's GrantConstraints documentation), unlike the context a ciphertext is bound to, which must match exactly.

/** Whether `context` holds every pair of `required`: keys compared without case, values exactly. */
function containsAll(context: Readonly<Record<string, string>>, required: Readonly<Record<string, string>>): boolean {
  const valuesByKey = new Map<string, string[]>();
  for (const [name, value] of Object.entries(context)) {
    const folded = name.toLowerCase();
    valuesByKey.set(folded, [...(valuesByKey.get(folded) ?? []), value]);
  }
  return Object.entries(required).every(([name, value]) => valuesByKey.get(name.toLowerCase())?.includes(value) === true);
}

/** The same pairs on both sides (keys compared without case, values exactly), in any order. */
function equalsExactly(context: Readonly<Record<string, string>>, required: Readonly<Record<string, string>>): boolean {
  return Object.keys(required).length === Object.keys(context).length
    && containsAll(context, required) && containsAll(required, context);
}

/** Whether a grant's constraints admit this request: its encryption context (order-free; see above for case), no SourceArn. */
export function constraintsAllow(constraints: GrantConstraints | undefined, grantOperation: string,
  encryptionContext: Readonly<Record<string, string>> | undefined): boolean {
  // SourceArn acts as aws:SourceArn, which only a service acting for a resource sends: no request here has it.
  if (constraints?.SourceArn !== undefined) return false;
  if (!constraints || !USES_ENCRYPTION_CONTEXT.has(grantOperation)) return true;
  const context = encryptionContext ?? {};
  if (constraints.EncryptionContextEquals && !equalsExactly(context, constraints.EncryptionContextEquals)) return false;
  if (constraints.EncryptionContextSubset && !containsAll(context, constraints.EncryptionContextSubset)) return false;
  return true;
}

/** The grant a CreateGrant request asks for, as far as a parent grant limits it. */
export interface RequestedGrant {
  readonly operations: readonly string[];
  readonly constraints?: GrantConstraints;
}

/**
 * Whether `child`'s constraints are equal to or stricter than `parent`'s: every context the child admits, the
 * parent admits too. An exact-context parent admits only that same exact context; a subset parent admits an
 * exact context or subset that contains all of its pairs.
 */
function constraintsAtLeastAsStrict(parent: GrantConstraints | undefined, child: GrantConstraints | undefined): boolean {
  if (parent?.EncryptionContextEquals !== undefined) {
    return child?.EncryptionContextEquals !== undefined && child.EncryptionContextSubset === undefined
      && equalsExactly(child.EncryptionContextEquals, parent.EncryptionContextEquals);
  }
  if (parent?.EncryptionContextSubset !== undefined) {
    const required = parent.EncryptionContextSubset;
    const narrowed = [child?.EncryptionContextEquals, child?.EncryptionContextSubset].filter((c) => c !== undefined);
    return narrowed.length > 0 && narrowed.every((context) => containsAll(context, required));
  }
  return true;
}

/**
 * A grant carrying CreateGrant lets its grantee create only grants with a subset of its operations and equal or
 * stricter constraints (kms-api.md 8.4), so a delegated grant can never widen what its parent allows.
 */
export function grantMayCreate(parent: GrantRecord, child: RequestedGrant): boolean {
  return child.operations.every((operation) => parent.operations.includes(operation))
    && constraintsAtLeastAsStrict(parent.constraints, child.constraints);
}

/**
 * True when one of `grants` names `principal` as grantee (its ARN, or the role of its session), carries
 * `grantOperation` (e.g. 'Decrypt', 'ReEncryptFrom') and its constraints admit `encryptionContext`. For
 * 'CreateGrant', pass the `requested` grant: the grant used must also cover it (grantMayCreate).
 */
export function grantAllows(grants: readonly GrantRecord[], principal: Principal | string, grantOperation: string,
  encryptionContext?: Readonly<Record<string, string>>, requested?: RequestedGrant): boolean {
  const isGrantee = typeof principal === 'string'
    ? (arn: string) => arn === principal
    : (arn: string) => principalIsNamedBy(principal, arn);
  // A grant to a service principal allows nothing here: no caller of this engine authenticates as an AWS service.
  return grants.some((grant) => grant.granteePrincipal !== undefined && isGrantee(grant.granteePrincipal)
    && grant.operations.includes(grantOperation)
    && constraintsAllow(grant.constraints, grantOperation, encryptionContext)
    && (grantOperation !== 'CreateGrant' || (requested !== undefined && grantMayCreate(grant, requested))));
}

/**
 * RetireGrant's own permission rule (kms-api.md 8.4), which is not a policy decision: the grant's retiring
 * principal, its grantee when the grant carries RetireGrant, or the root of the account that issued it.
 */
export function mayRetireGrant(grant: GrantRecord, principal: Principal): boolean {
  if (grant.retiringPrincipal !== undefined && principalIsNamedBy(principal, grant.retiringPrincipal)) return true;
  if (grant.operations.includes('RetireGrant') && grant.granteePrincipal !== undefined
    && principalIsNamedBy(principal, grant.granteePrincipal)) return true;
  return principal.isRoot && principal.accountId === grant.issuingAccount;
}

/**
 * Whether IAM can delegate retiring this grant to `principal` (AWS, "Retiring and revoking grants"): the account
 * that owns the key can give kms:RetireGrant to its IAM principals, and so can an account named as the grant's
 * retiring principal. The caller's identity policies must then allow kms:RetireGrant; the caller checks that.
 */
export function retireMayBeDelegatedTo(grant: GrantRecord, principal: Principal, keyAccount: string): boolean {
  if (principal.accountId === keyAccount) return true;
  const retiring = grant.retiringPrincipal;
  if (retiring === undefined) return false;
  const named = isAccountId(retiring) ? { kind: 'root', accountId: retiring } : parsePrincipalArn(retiring);
  return named?.kind === 'root' && named.accountId === principal.accountId;
}

/** An AWS service principal, which grants made for AWS services name in these fields too (`rds.us-east-1.amazonaws.com`). */
const SERVICE_PRINCIPAL = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/;

/**
 * CreateGrant's GranteePrincipal and RetiringPrincipal name an AWS principal by ARN: an account (its root or,
 * as in key policies, its id), a user, a role, an assumed-role session or a federated user, or else an AWS
 * service principal. Anything else (a bare name, a group, another service's resource ARN) is
 * InvalidArnException, as AWS answers a grant to no principal.
 */
export function checkGrantPrincipalArn(value: string): void {
  if (parsePrincipalArn(value) !== undefined || isAccountId(value) || isFederatedUserArn(value)
    || SERVICE_PRINCIPAL.test(value)) return;
  throw new KmsError('InvalidArnException', 'ARN does not refer to a valid principal.');
}

/** A new grant id: 64 lowercase hex digits, as AWS's. */
export const newGrantId = (): string => randomBytes(32).toString('hex');

const GRANT_ID = /^[0-9a-f]{64}$/;
const TOKEN_FORMAT = 1;
/** GrantTokenType's maximum length in the service model. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * An opaque, non-secret grant token: base64 of {v, g: grantId, k: keyId, n: nonce}. The nonce makes every
 * CreateGrant answer a fresh token, as AWS does; all tokens of one grant are interchangeable.
 */
export function encodeGrantToken(grant: Pick<GrantRecord, 'grantId' | 'keyId'>): string {
  const body = JSON.stringify({ v: TOKEN_FORMAT, g: grant.grantId, k: grant.keyId, n: randomBytes(12).toString('hex') });
  return Buffer.from(body, 'utf8').toString('base64');
}

const INVALID_TOKEN = 'Grant token is invalid or malformed.';

/** Reads a token from GrantTokens; anything this engine did not issue is InvalidGrantTokenException. */
export function decodeGrantToken(token: string): { grantId: string; keyId: string } {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) {
    throw new KmsError('InvalidGrantTokenException', INVALID_TOKEN);
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw new KmsError('InvalidGrantTokenException', INVALID_TOKEN);
  }
  const { v, g, k } = (decoded ?? {}) as { v?: unknown; g?: unknown; k?: unknown };
  if (v !== TOKEN_FORMAT || typeof g !== 'string' || !GRANT_ID.test(g) || typeof k !== 'string' || !isKeyId(k)) {
    throw new KmsError('InvalidGrantTokenException', INVALID_TOKEN);
  }
  return { grantId: g, keyId: k };
}
