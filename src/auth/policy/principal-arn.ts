// The principal identifiers a policy or grant may name, and whether a caller is the one named.
// Shared by key-policy principals, identity files and grant grantees so all three agree on what a
// role, a session and an account mean.
import { PARTITION_NAMES } from '../../contract/partition.js';
import type { Principal } from '../identities.js';

export type PrincipalArnKind = 'root' | 'user' | 'role' | 'assumed-role';

export interface ParsedPrincipalArn {
  readonly arn: string;
  readonly kind: PrincipalArnKind;
  readonly partition: string;
  readonly accountId: string;
  /** user name, role name or role name of a session */
  readonly name?: string;
  /** `arn:<p>:iam::<acct>:role/<name>` of an assumed-role session */
  readonly roleArn?: string;
}

const ACCOUNT_ID = /^\d{12}$/;
// IAM names: letters, digits and +=,.@_- ; user/role paths add '/' segments before the name.
const IAM_PATH_AND_NAME = /^\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,128})$/;
// Any partition KMS_REGION can be in: the engine names its own root in it (the default key policy, grants).
const PARTITION = `(${PARTITION_NAMES.join('|')})`;
const PRINCIPAL_ARN = new RegExp(`^arn:${PARTITION}:(iam|sts)::(\\d{12}):(.+)$`);

export const isAccountId = (value: string): boolean => ACCOUNT_ID.test(value);

/**
 * A federated user's session (sts:GetFederationToken). Resource policies, key policies among them, may name
 * it, though no caller of this engine authenticates as one.
 */
const FEDERATED_USER_ARN = new RegExp(`^arn:${PARTITION}:sts::\\d{12}:federated-user/[\\w+=,.@-]{2,32}$`);
export const isFederatedUserArn = (value: string): boolean => FEDERATED_USER_ARN.test(value);

export const accountRootArn = (accountId: string, partition = 'aws'): string =>
  `arn:${partition}:iam::${accountId}:root`;

/** Parses an IAM/STS principal ARN; undefined when it is not one this engine understands. */
export function parsePrincipalArn(arn: string): ParsedPrincipalArn | undefined {
  const match = PRINCIPAL_ARN.exec(arn);
  if (!match) return undefined;
  const [, partition, service, accountId, resource] = match as unknown as [string, string, string, string, string];
  if (service === 'iam') {
    if (resource === 'root') return { arn, kind: 'root', partition, accountId };
    const slash = resource.indexOf('/');
    if (slash < 0) return undefined;
    const type = resource.slice(0, slash);
    const name = IAM_PATH_AND_NAME.exec(resource.slice(slash))?.[1];
    if (!name || (type !== 'user' && type !== 'role')) return undefined;
    return { arn, kind: type, partition, accountId, name };
  }
  const session = /^assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/.exec(resource);
  if (!session) return undefined;
  const roleName = session[1]!;
  return { arn, kind: 'assumed-role', partition, accountId, name: roleName,
    roleArn: `arn:${partition}:iam::${accountId}:role/${roleName}` };
}

/**
 * True when `arn` names this caller: its own ARN, or the role of its assumed-role session (a policy or
 * grant naming a role applies to every session of it). Account trust ("root") is decided by the caller of
 * this function, because its meaning differs between key policies and grants.
 */
export function principalIsNamedBy(principal: Principal, arn: string): boolean {
  return arn === principal.arn || (principal.roleArn !== undefined && arn === principal.roleArn);
}
