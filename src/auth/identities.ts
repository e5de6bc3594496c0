// The principals the engine knows: the account root (KMS_ACCESS_KEY_ID/KMS_SECRET_ACCESS_KEY) plus the ones
// in KMS_IDENTITIES. Loaded once at start; lookups by access key id run on every request (a Map get).
import { readFileSync } from 'node:fs';
import { ACCESS_KEY_ID_PATTERN, ACCESS_KEY_ID_RULE, ConfigError } from '../config.js';
import { KmsError } from '../protocol/errors.js';
import { parseIdentityPolicy, type CompiledPolicy } from './policy/document.js';
import { accountRootArn, isAccountId, parsePrincipalArn } from './policy/principal-arn.js';

export type PrincipalType = 'Root' | 'IAMUser' | 'AssumedRole';

export interface Principal {
  readonly arn: string;
  readonly accountId: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /**
   * Set for temporary credentials (an STS-style key, secret and token, configured rather than issued): every
   * request signed with this access key id must carry exactly this X-Amz-Security-Token. Unset: none may carry one.
   */
  readonly sessionToken?: string;
  readonly isRoot: boolean;
  readonly type: PrincipalType;
  readonly userName?: string;
  /** For assumed-role sessions: the role's ARN, which policies and grants may name instead of the session. */
  readonly roleArn?: string;
  /** Compiled IAM policies attached to this identity. Empty for roots (IAM lets a root do anything). */
  readonly identityPolicies: readonly CompiledPolicy[];
}

export interface IdentityDirectory {
  readonly root: Principal;
  lookup(accessKeyId: string): Principal | undefined;
  /** True when the directory holds this principal ARN, or a session of this role ARN. */
  hasPrincipal(arn: string): boolean;
  all(): readonly Principal[];
}

export interface LoadIdentitiesOptions {
  accountId: string;
  rootAccessKeyId: string;
  rootSecretAccessKey: string;
  identitiesFile?: string;
  /** Of KMS_REGION (src/contract/partition.ts): the root principal's ARN says it. */
  partition?: string;
}

const VARIABLE = 'KMS_IDENTITIES';

/** A configuration error: the start stops with its one line and status 2, as for every other bad variable. */
class IdentityFileError extends ConfigError {
  constructor(file: string, detail: string) {
    super(`${VARIABLE}: ${file}: ${detail}`);
  }
}

const describe = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : typeof value);

function principalFromEntry(entry: unknown, index: number, fail: (detail: string) => never): Principal {
  const where = `identities[${index}]`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(`${where} must be an object`);
  const { accessKeyId, secretAccessKey, sessionToken, arn, policies } = entry as Record<string, unknown>;
  if (typeof accessKeyId !== 'string' || !ACCESS_KEY_ID_PATTERN.test(accessKeyId)) {
    fail(`${where}.accessKeyId must be ${ACCESS_KEY_ID_RULE}`);
  }
  // Never echo the secret, not even a bad one. Any non-empty string signs, as KMS_SECRET_ACCESS_KEY does.
  if (typeof secretAccessKey !== 'string' || secretAccessKey.length === 0) fail(`${where}.secretAccessKey must be a non-empty string`);
  if (sessionToken !== undefined && (typeof sessionToken !== 'string' || sessionToken.length === 0)) {
    fail(`${where}.sessionToken must be a non-empty string when given`);
  }
  if (typeof arn !== 'string') fail(`${where}.arn must be a string, got ${describe(arn)}`);
  const parsed = parsePrincipalArn(arn);
  if (!parsed || parsed.kind === 'role') {
    fail(`${where}.arn ${JSON.stringify(arn)} is not an IAM user, assumed-role session or account root ARN`);
  }
  if (policies !== undefined && !Array.isArray(policies)) fail(`${where}.policies must be an array of IAM policy documents`);
  const identityPolicies = (policies ?? []).map((document, policyIndex) => {
    try {
      return parseIdentityPolicy(document);
    } catch (error) {
      if (error instanceof KmsError) fail(`${where}.policies[${policyIndex}]: ${error.message}`);
      throw error;
    }
  });
  const type: PrincipalType = parsed.kind === 'root' ? 'Root' : parsed.kind === 'user' ? 'IAMUser' : 'AssumedRole';
  return {
    arn, accountId: parsed.accountId, accessKeyId, secretAccessKey, isRoot: parsed.kind === 'root', type,
    ...(sessionToken !== undefined ? { sessionToken } : {}),
    ...(parsed.kind === 'user' ? { userName: parsed.name } : {}),
    ...(parsed.roleArn ? { roleArn: parsed.roleArn } : {}),
    identityPolicies,
  };
}

function readIdentityFile(file: string): unknown[] {
  const fail = (detail: string): never => { throw new IdentityFileError(file, detail); };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return fail(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return fail('not valid JSON');
  }
  const identities = (document as { identities?: unknown } | null)?.identities;
  if (!Array.isArray(identities)) return fail('expected {"identities":[...]}');
  return identities;
}

/** Builds the directory; a bad identities file throws one line naming KMS_IDENTITIES and the problem. */
export function loadIdentities(opts: LoadIdentitiesOptions): IdentityDirectory {
  if (!isAccountId(opts.accountId)) throw new Error(`account id ${JSON.stringify(opts.accountId)} is not 12 digits`);
  const root: Principal = {
    arn: accountRootArn(opts.accountId, opts.partition), accountId: opts.accountId, accessKeyId: opts.rootAccessKeyId,
    secretAccessKey: opts.rootSecretAccessKey, isRoot: true, type: 'Root', identityPolicies: [],
  };
  const byAccessKey = new Map<string, Principal>([[root.accessKeyId, root]]);
  if (opts.identitiesFile !== undefined) {
    const file = opts.identitiesFile;
    const fail = (detail: string): never => { throw new IdentityFileError(file, detail); };
    readIdentityFile(file).forEach((entry, index) => {
      const principal = principalFromEntry(entry, index, fail);
      if (byAccessKey.has(principal.accessKeyId)) {
        fail(`identities[${index}].accessKeyId ${principal.accessKeyId} is already used by another principal`);
      }
      byAccessKey.set(principal.accessKeyId, principal);
    });
  }
  const principals = [...byAccessKey.values()];
  const knownArns = new Set<string>();
  for (const principal of principals) {
    knownArns.add(principal.arn);
    if (principal.roleArn) knownArns.add(principal.roleArn);
  }
  return {
    root,
    lookup: (accessKeyId) => byAccessKey.get(accessKeyId),
    hasPrincipal: (arn) => knownArns.has(arn),
    all: () => principals,
  };
}
