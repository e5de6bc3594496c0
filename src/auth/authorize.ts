// The authorization decision for one request: policies (key policy + identity policies, see
// policy/decision.ts), then grants. Decisions that cannot depend on request values are cached per
// (principal, key id, key version, action); the key version changes whenever the key policy does.
import { LRUCache } from 'lru-cache';
import { KmsError } from '../protocol/errors.js';
import type { GrantRecord, KeyRecord } from '../store/types.js';
import { grantAllows } from './grants.js';
import type { Principal } from './identities.js';
import type { ConditionContext } from './policy/condition.js';
import { decidePolicies, isConditionFree, type PolicyVerdict } from './policy/decision.js';
import { parseKeyPolicy, type CompiledPolicy } from './policy/document.js';

export interface AuthorizeRequest {
  principal: Principal;
  /** 'kms:Encrypt', 'kms:ReEncryptFrom', ... */
  action: string;
  /** undefined for CreateKey, ListKeys, GenerateRandom, ...: identity policies only, resource '*'. */
  key: KeyRecord | undefined;
  /** key.policy compiled; omitted -> compiled here and cached by (keyId, version). */
  keyPolicy?: CompiledPolicy;
  conditions: ConditionContext;
  /** Grants on this key (the store's list); empty when none. */
  grants: readonly GrantRecord[];
  /** Grant operation this action needs; default: the action without 'kms:' (kms:Decrypt -> Decrypt). */
  grantOperation?: string;
}

export interface AuthorizerOptions {
  /** Cached policy verdicts (entries are ~100 bytes). */
  maxDecisions?: number;
  /** Cached compiled key policies. */
  maxPolicies?: number;
}

function denial(request: AuthorizeRequest, verdict: Exclude<PolicyVerdict, 'allow'>): KmsError {
  const { action, principal, key } = request;
  const tails: Record<typeof verdict, string> = {
    'explicit-deny-resource': 'with an explicit deny in a resource-based policy',
    'explicit-deny-identity': 'with an explicit deny in an identity-based policy',
    'implicit-deny-resource': `because no resource-based policy allows the ${action} action`,
    'implicit-deny-identity': `because no identity-based policy allows the ${action} action`,
  };
  return new KmsError('AccessDeniedException',
    `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${key?.arn ?? '*'} ${tails[verdict]}`);
}

export class Authorizer {
  readonly #decisions: LRUCache<string, PolicyVerdict>;
  readonly #policies: LRUCache<string, CompiledPolicy>;

  constructor(options: AuthorizerOptions = {}) {
    this.#decisions = new LRUCache({ max: options.maxDecisions ?? 100_000 });
    this.#policies = new LRUCache({ max: options.maxPolicies ?? 10_000 });
  }

  /** The key's policy compiled, cached by (keyId, version). Throws only if a stored policy is invalid. */
  keyPolicyOf(key: KeyRecord): CompiledPolicy {
    const cacheKey = `${key.keyId}\u0000${key.version}`;
    let compiled = this.#policies.get(cacheKey);
    if (!compiled) {
      compiled = parseKeyPolicy(key.policy);
      this.#policies.set(cacheKey, compiled);
    }
    return compiled;
  }

  /** Throws AccessDeniedException unless the request is allowed; returns nothing on success. */
  authorize(request: AuthorizeRequest): void {
    const verdict = this.#policyVerdict(request);
    if (verdict === 'allow') return;
    // Grants only allow: they cannot lift an explicit deny.
    if (verdict === 'implicit-deny-resource' || verdict === 'implicit-deny-identity') {
      if (request.key && request.grants.length > 0) {
        const operation = request.grantOperation ?? request.action.replace(/^kms:/i, '');
        if (grantAllows(request.grants, request.principal, operation, request.conditions.encryptionContext)) return;
      }
    }
    throw denial(request, verdict);
  }

  #policyVerdict(request: AuthorizeRequest): PolicyVerdict {
    const { principal, key, action } = request;
    const keyPolicy = key ? (request.keyPolicy ?? this.keyPolicyOf(key)) : undefined;
    const decide = (): PolicyVerdict => decidePolicies({ principal, action, resource: key?.arn ?? '*',
      conditions: request.conditions }, keyPolicy, key?.account);
    if (!isConditionFree(keyPolicy, principal)) return decide();
    const cacheKey = key ? `${principal.arn}\u0000${key.keyId}\u0000${key.version}\u0000${action}` : `${principal.arn}\u0000*\u0000${action}`;
    let verdict = this.#decisions.get(cacheKey);
    if (verdict === undefined) {
      verdict = decide();
      this.#decisions.set(cacheKey, verdict);
    }
    return verdict;
  }
}

const defaultAuthorizer = new Authorizer();

/** The process-wide Authorizer's decision; see Authorizer#authorize. */
export const authorize = (request: AuthorizeRequest): void => defaultAuthorizer.authorize(request);
/** The process-wide Authorizer's compiled-policy cache. */
export const keyPolicyOf = (key: KeyRecord): CompiledPolicy => defaultAuthorizer.keyPolicyOf(key);
