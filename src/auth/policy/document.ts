// Policy documents (key policies and IAM identity policies): parse, validate, compile. Compilation does all
// string work up front (wildcards to matchers, condition operators to predicates) so evaluation per request
// is a handful of comparisons. Validation errors are MalformedPolicyDocumentException, as KMS answers them.
import { KmsError } from '../../protocol/errors.js';
import { compileCondition, type ConditionPredicate } from './condition.js';
import { isAccountId, isFederatedUserArn, parsePrincipalArn, type ParsedPrincipalArn } from './principal-arn.js';
import { compileWildcardList, type StringMatcher } from './wildcard.js';

export type PolicyKind = 'key' | 'identity';
export type Effect = 'Allow' | 'Deny';

/** Who a key-policy statement names. `accounts` are trusted wholesale ("delegate to the account's IAM"). */
export interface StatementPrincipals {
  readonly everyone: boolean;
  readonly accounts: ReadonlySet<string>;
  /** user, role and session ARNs, matched exactly (a role also matches its sessions) */
  readonly arns: ReadonlySet<string>;
}

export interface CompiledStatement {
  readonly sid?: string;
  readonly effect: Effect;
  /** Key policies only; identity policies apply to the identity they are attached to. */
  readonly principals?: StatementPrincipals;
  readonly matchesAction: StringMatcher;
  readonly matchesResource: StringMatcher;
  readonly condition?: ConditionPredicate;
  /** The condition keys its Condition tests, lowercase. */
  readonly conditionKeys?: readonly string[];
}

export interface CompiledPolicy {
  readonly kind: PolicyKind;
  /** Statements that can ever apply (ones without Action or Resource have no effect and are dropped). */
  readonly statements: readonly CompiledStatement[];
  /** False when no statement has a Condition: decisions then depend only on (principal, key, action). */
  readonly hasConditions: boolean;
  /** Every principal ARN/account the document names, for existence checks (key policies). */
  readonly namedPrincipals: readonly ParsedPrincipalArn[];
  /**
   * Whether a statement's Condition tests this condition key (lowercase name): lets the caller skip gathering
   * keys that cost a store read (kms:ResourceAliases) when no policy asks for them.
   */
  readonly testsConditionKey: (key: string) => boolean;
  /**
   * A Sid two statements share. Checked when a policy is set (checkSidsUnique), not when a stored one is
   * read, so a key whose policy an earlier version accepted stays usable.
   */
  readonly duplicateSid?: string;
}

/** KMS's key policy size quota (kms-api.md section 9 resource quotas). */
export const MAX_KEY_POLICY_BYTES = 32_768;

const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource',
  'NotResource', 'Condition']);
const IAM_SID = /^[0-9A-Za-z]*$/;
const ACTION_PATTERN = /^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$/;

const malformed = (message: string): KmsError => new KmsError('MalformedPolicyDocumentException', message);
const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function stringList(value: unknown, field: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((item): item is string => typeof item === 'string' && item.length > 0)) {
    throw malformed(`Policy contains a statement with an invalid ${field}: expected a string or an array of strings.`);
  }
  return list;
}

function compileActions(statement: Record<string, unknown>): StringMatcher | undefined {
  const hasAction = statement.Action !== undefined;
  const hasNotAction = statement.NotAction !== undefined;
  if (hasAction && hasNotAction) throw malformed('Policy contains a statement with both Action and NotAction.');
  if (!hasAction && !hasNotAction) return undefined;
  const field = hasAction ? 'Action' : 'NotAction';
  const actions = stringList(statement[field], field);
  for (const action of actions) {
    if (!ACTION_PATTERN.test(action)) throw malformed(`Policy contains a statement with an invalid action '${action}'.`);
  }
  const matches = compileWildcardList(actions, true);
  return hasAction ? matches : (action) => !matches(action);
}

function compileResources(statement: Record<string, unknown>): StringMatcher | undefined {
  const hasResource = statement.Resource !== undefined;
  const hasNotResource = statement.NotResource !== undefined;
  if (hasResource && hasNotResource) throw malformed('Policy contains a statement with both Resource and NotResource.');
  if (!hasResource && !hasNotResource) return undefined;
  const field = hasResource ? 'Resource' : 'NotResource';
  const resources = stringList(statement[field], field);
  for (const resource of resources) {
    if (resource !== '*' && !resource.startsWith('arn:')) {
      throw malformed(`Policy contains a statement with an invalid resource '${resource}'.`);
    }
  }
  const matches = compileWildcardList(resources);
  return hasResource ? matches : (resource) => !matches(resource);
}

const INVALID_PRINCIPALS = 'Policy contains a statement with one or more invalid principals.';

function compilePrincipals(raw: unknown, named: ParsedPrincipalArn[]): StatementPrincipals {
  if (raw === '*') return { everyone: true, accounts: new Set(), arns: new Set() };
  if (!isObject(raw) || Object.keys(raw).length === 0) throw malformed(INVALID_PRINCIPALS);
  let everyone = false;
  const accounts = new Set<string>();
  const arns = new Set<string>();
  for (const [type, value] of Object.entries(raw)) {
    const list = stringList(value, 'Principal');
    if (type === 'Service') {
      // Service principals are valid but no caller of this engine is an AWS service: they never match.
      if (!list.every((service) => /^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(service))) throw malformed(INVALID_PRINCIPALS);
      continue;
    }
    if (type !== 'AWS') throw malformed(INVALID_PRINCIPALS);
    for (const principal of list) {
      if (principal === '*') { everyone = true; continue; }
      if (isAccountId(principal)) {
        accounts.add(principal);
        named.push({ arn: principal, kind: 'root', partition: 'aws', accountId: principal });
        continue;
      }
      // A federated user is a session, not an IAM entity whose existence KMS checks: valid, never a caller here.
      if (isFederatedUserArn(principal)) { arns.add(principal); continue; }
      const parsed = parsePrincipalArn(principal);
      if (!parsed) throw malformed(INVALID_PRINCIPALS);
      named.push(parsed);
      if (parsed.kind === 'root') accounts.add(parsed.accountId);
      else arns.add(principal);
    }
  }
  return { everyone, accounts, arns };
}

/** Policy variables (`${aws:username}`) exist only in this Version; an older or missing one keeps `${...}` as text. */
const POLICY_VARIABLES_VERSION = '2012-10-17';

function compileStatement(raw: unknown, kind: PolicyKind, named: ParsedPrincipalArn[], policyVariables: boolean):
  CompiledStatement | undefined {
  if (!isObject(raw)) throw malformed('Policy contains a statement that is not a JSON object.');
  for (const field of Object.keys(raw)) {
    if (!STATEMENT_FIELDS.has(field)) throw malformed(`Policy contains a statement with an unknown field '${field}'.`);
  }
  if (raw.Sid !== undefined && typeof raw.Sid !== 'string') throw malformed('Policy contains a statement with an invalid Sid.');
  // A key policy's Sid may hold spaces and any other character; IAM allows letters and digits only.
  if (kind === 'identity' && typeof raw.Sid === 'string' && !IAM_SID.test(raw.Sid)) {
    throw malformed('Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*');
  }
  if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny') {
    throw malformed('Policy contains a statement with an invalid Effect: it must be Allow or Deny.');
  }
  if (raw.NotPrincipal !== undefined) throw malformed('Policy contains a statement with NotPrincipal, which KMS policies do not support.');
  let principals: StatementPrincipals | undefined;
  if (kind === 'key') {
    if (raw.Principal === undefined) throw malformed('Policy contains a statement with no principal.');
    principals = compilePrincipals(raw.Principal, named);
  } else if (raw.Principal !== undefined) {
    throw malformed('Identity-based policies cannot contain a Principal element.');
  }
  const matchesAction = compileActions(raw);
  const matchesResource = compileResources(raw);
  const condition = raw.Condition === undefined ? undefined
    : compileCondition(raw.Condition, { rejectOverlyPermissive: kind === 'key', policyVariables });
  if (kind === 'identity') {
    // IAM refuses what KMS accepts in a key policy, where such a statement is inert (below).
    if (!matchesAction) throw malformed('Policy statement must contain actions.');
    if (!matchesResource) throw malformed('Policy statement must contain resources.');
  }
  // Accepted but inert (kms-api.md 8.1): validated above, then dropped so evaluation never sees it.
  if (!matchesAction || !matchesResource) return undefined;
  return {
    ...(typeof raw.Sid === 'string' ? { sid: raw.Sid } : {}),
    effect: raw.Effect, ...(principals ? { principals } : {}), matchesAction, matchesResource,
    ...(condition ? { condition, conditionKeys: conditionKeysOf(raw.Condition) } : {}),
  };
}

/** The condition key names of a (validated) Condition block, lowercase. */
const conditionKeysOf = (block: unknown): string[] =>
  Object.values(block as Record<string, Record<string, unknown>>).flatMap((keys) => Object.keys(keys).map((key) => key.toLowerCase()));

/** The first Sid two statements share (statements without a Sid never clash). */
function firstDuplicateSid(rawStatements: readonly unknown[]): string | undefined {
  const sids = new Set<string>();
  for (const raw of rawStatements) {
    const sid = isObject(raw) && typeof raw.Sid === 'string' && raw.Sid !== '' ? raw.Sid : undefined;
    if (sid === undefined) continue;
    if (sids.has(sid)) return sid;
    sids.add(sid);
  }
  return undefined;
}

export const DUPLICATE_SID_MESSAGE = 'Statement IDs (SID) in a single policy must be unique.';

/** IAM and KMS refuse a new policy in which two statements share a Sid. */
export function checkSidsUnique(policy: CompiledPolicy): void {
  if (policy.duplicateSid !== undefined) throw malformed(DUPLICATE_SID_MESSAGE);
}

/** Validates and compiles a parsed policy object. */
export function compilePolicy(document: unknown, kind: PolicyKind): CompiledPolicy {
  if (!isObject(document)) throw malformed('The policy document must be a JSON object.');
  for (const field of Object.keys(document)) {
    if (field !== 'Version' && field !== 'Id' && field !== 'Statement') {
      throw malformed(`Policy contains an unknown top-level field '${field}'.`);
    }
  }
  if (document.Version !== undefined && (typeof document.Version !== 'string' || !VERSIONS.has(document.Version))) {
    throw malformed('Policy contains an invalid Version: use "2012-10-17".');
  }
  if (document.Id !== undefined && typeof document.Id !== 'string') throw malformed('Policy contains an invalid Id.');
  const rawStatements = Array.isArray(document.Statement) ? document.Statement
    : document.Statement === undefined ? [] : [document.Statement];
  if (rawStatements.length === 0) throw malformed('Policy must contain at least one statement.');
  const named: ParsedPrincipalArn[] = [];
  const statements: CompiledStatement[] = [];
  for (const raw of rawStatements) {
    const statement = compileStatement(raw, kind, named, document.Version === POLICY_VARIABLES_VERSION);
    if (statement) statements.push(statement);
  }
  const conditionKeys = new Set(statements.flatMap((statement) => statement.conditionKeys ?? []));
  const duplicateSid = firstDuplicateSid(rawStatements);
  return {
    kind, statements, hasConditions: statements.some((s) => s.condition !== undefined), namedPrincipals: named,
    testsConditionKey: (key) => conditionKeys.has(key), ...(duplicateSid !== undefined ? { duplicateSid } : {}),
  };
}

/**
 * A key policy as sent to CreateKey/PutKeyPolicy (or stored on a key). Over 32 KB is LimitExceededException;
 * anything else wrong is MalformedPolicyDocumentException.
 */
export function parseKeyPolicy(text: string): CompiledPolicy {
  if (Buffer.byteLength(text, 'utf8') > MAX_KEY_POLICY_BYTES) {
    throw new KmsError('LimitExceededException', `The key policy exceeds the maximum size of ${MAX_KEY_POLICY_BYTES} bytes.`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw malformed('The policy document is not valid JSON.');
  }
  return compilePolicy(document, 'key');
}

/** An IAM identity policy, given as a JSON text or an already-parsed object (identities file). */
export function parseIdentityPolicy(document: unknown): CompiledPolicy {
  let parsed: unknown = document;
  if (typeof document === 'string') {
    try {
      parsed = JSON.parse(document);
    } catch {
      throw malformed('The policy document is not valid JSON.');
    }
  }
  const policy = compilePolicy(parsed, 'identity');
  checkSidsUnique(policy);
  return policy;
}
