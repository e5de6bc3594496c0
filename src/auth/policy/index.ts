// Policy documents: parse/validate/compile, evaluation, the default key policy and new-policy checks.
export { createConditionContext, type ConditionContext, type ConditionPredicate } from './condition.js';
export { decidePolicies, isConditionFree, type PolicyRequest, type PolicyVerdict } from './decision.js';
export { defaultKeyPolicy } from './default-policy.js';
export {
  compilePolicy, MAX_KEY_POLICY_BYTES, parseIdentityPolicy, parseKeyPolicy,
  type CompiledPolicy, type CompiledStatement, type PolicyKind,
} from './document.js';
export { checkLockout, checkPrincipalsExist, LOCKOUT_MESSAGE } from './key-policy-checks.js';
export { accountRootArn, parsePrincipalArn, principalIsNamedBy, type ParsedPrincipalArn } from './principal-arn.js';
