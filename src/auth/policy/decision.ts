// Combines a key policy and the caller's identity policies into one verdict, following KMS's rules
// (kms-api.md 8.1): an explicit Deny anywhere wins; otherwise the key policy must allow the caller, either
// by naming it (or "*"), or by trusting its account, in which case an identity policy must allow too.
// Callers from another account always need both. Grants are layered on top by authorize.ts.
import type { Principal } from '../identities.js';
import type { ConditionContext } from './condition.js';
import type { CompiledPolicy, CompiledStatement } from './document.js';
import { principalIsNamedBy } from './principal-arn.js';

export type PolicyVerdict =
  | 'allow'
  | 'explicit-deny-resource'
  | 'explicit-deny-identity'
  /** nothing allows: the key policy neither names nor trusts the caller */
  | 'implicit-deny-resource'
  /** the key policy defers to IAM (or there is no key) but no identity policy allows */
  | 'implicit-deny-identity';

export interface PolicyRequest {
  readonly principal: Principal;
  readonly action: string;
  /** The key ARN, or '*' for operations on no key (CreateKey, ListKeys, ...). */
  readonly resource: string;
  readonly conditions: ConditionContext;
}

/** How a key-policy statement's principals relate to the caller. */
function principalMatch(statement: CompiledStatement, principal: Principal): 'named' | 'account' | undefined {
  const principals = statement.principals;
  if (!principals || principals.everyone) return 'named';
  if (principals.arns.size > 0) {
    for (const arn of principals.arns) if (principalIsNamedBy(principal, arn)) return 'named';
  }
  return principals.accounts.has(principal.accountId) ? 'account' : undefined;
}

const statementApplies = (statement: CompiledStatement, request: PolicyRequest): boolean =>
  statement.matchesAction(request.action) && statement.matchesResource(request.resource)
  && (statement.condition === undefined || statement.condition(request.conditions));

interface KeyPolicyResult { deny: boolean; allowNamed: boolean; allowAccount: boolean }

function evaluateKeyPolicy(policy: CompiledPolicy, request: PolicyRequest): KeyPolicyResult {
  const result: KeyPolicyResult = { deny: false, allowNamed: false, allowAccount: false };
  for (const statement of policy.statements) {
    const match = principalMatch(statement, request.principal);
    if (match === undefined || !statementApplies(statement, request)) continue;
    if (statement.effect === 'Deny') { result.deny = true; return result; }
    if (match === 'named') result.allowNamed = true;
    else result.allowAccount = true;
  }
  return result;
}

interface IdentityResult { deny: boolean; allow: boolean }

function evaluateIdentityPolicies(principal: Principal, request: PolicyRequest): IdentityResult {
  // IAM gives an account's root every permission in its account; it has no policies that could deny.
  if (principal.isRoot) return { deny: false, allow: true };
  let allow = false;
  for (const policy of principal.identityPolicies) {
    for (const statement of policy.statements) {
      if (!statementApplies(statement, request)) continue;
      if (statement.effect === 'Deny') return { deny: true, allow: false };
      allow = true;
    }
  }
  return { deny: false, allow };
}

/**
 * The verdict of policies alone. `keyPolicy` undefined means the operation has no key: only identity
 * policies apply. `keyAccount` is the account owning the key.
 */
export function decidePolicies(request: PolicyRequest, keyPolicy: CompiledPolicy | undefined, keyAccount?: string): PolicyVerdict {
  const identity = evaluateIdentityPolicies(request.principal, request);
  if (!keyPolicy) {
    if (identity.deny) return 'explicit-deny-identity';
    return identity.allow ? 'allow' : 'implicit-deny-identity';
  }
  const key = evaluateKeyPolicy(keyPolicy, request);
  if (key.deny) return 'explicit-deny-resource';
  if (identity.deny) return 'explicit-deny-identity';
  const sameAccount = keyAccount === undefined || keyAccount === request.principal.accountId;
  if (sameAccount && key.allowNamed) return 'allow';
  if (key.allowNamed || key.allowAccount) return identity.allow ? 'allow' : 'implicit-deny-identity';
  return 'implicit-deny-resource';
}

/** True when the verdict for (principal, key version, action) cannot depend on request condition values. */
export const isConditionFree = (keyPolicy: CompiledPolicy | undefined, principal: Principal): boolean =>
  !(keyPolicy?.hasConditions ?? false) && principal.identityPolicies.every((policy) => !policy.hasConditions);
