// The authorization decision for one request: policies (key policy + identity policies, see
// policy/decision.ts), then grants. Verdicts that cannot depend on request values are cached per
// (compiled key policy = key id + version, principal, action); the key version changes with its policy.
import { LRUCache } from 'lru-cache';
import { KmsError } from '../protocol/errors.js';
import type { GrantRecord, KeyRecord } from '../store/types.js';
import { grantAllows, type RequestedGrant } from './grants.js';
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
  /** key.policy compiled for THIS key; omitted -> compiled here and cached by (keyId, version). */
  keyPolicy?: CompiledPolicy;
  conditions: ConditionContext;
  /**
   * Grants on this key (the store's list); empty when none. Undefined: not read yet, since most calls are
   * decided by the policies alone; authorize() then answers GRANTS_NEEDED where only a grant could allow.
   */
  grants: readonly GrantRecord[] | undefined;
  /** Grant operation this action needs; default: the action without 'kms:' (kms:Decrypt -> Decrypt). */
  grantOperation?: string;
  /** CreateGrant: the grant being created, which a grant allowing CreateGrant must cover. */
  requestedGrant?: RequestedGrant;
}

export interface AuthorizerOptions {
  /** Cached compiled key policies (one per key; a new key version replaces its entry). */
  maxPolicies?: number;
}

/** authorize()'s answer when only the key's grants, not yet read, could allow the request. */
export const GRANTS_NEEDED = Symbol('grants needed');

/** Verdicts per (principal, action) for one compiled key policy, valid for the resource they were made for. */
interface VerdictTable {
  readonly resource: string;
  readonly byPrincipal: WeakMap<Principal, Map<string, PolicyVerdict>>;
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

/**
 * Decision caches are keyed by object identity, not strings: a compiled policy (one per key id and version,
 * see keyPolicyOf) and the Principal object from the IdentityDirectory (stable for the process). A lookup
 * is then two WeakMap gets and one Map get, cheaper than evaluating even the default policy. Entries go
 * when their policy or principal is garbage; per (policy, principal) at most one entry per action.
 */
export class Authorizer {
  readonly #policies: LRUCache<string, { version: number; policy: CompiledPolicy }>;
  readonly #verdicts = new WeakMap<CompiledPolicy, VerdictTable>();
  readonly #keylessVerdicts = new WeakMap<Principal, Map<string, PolicyVerdict>>();

  constructor(options: AuthorizerOptions = {}) {
    // Sized for a hot set of tens of thousands of keys: a miss recompiles the policy (several microseconds).
    this.#policies = new LRUCache({ max: options.maxPolicies ?? 50_000 });
  }

  /** The key's policy compiled, cached per key id for its current version. Throws only if a stored policy is invalid. */
  keyPolicyOf(key: KeyRecord): CompiledPolicy {
    const cached = this.#policies.get(key.keyId);
    if (cached && cached.version === key.version) return cached.policy;
    const policy = parseKeyPolicy(key.policy);
    this.#policies.set(key.keyId, { version: key.version, policy });
    return policy;
  }

  /**
   * Throws AccessDeniedException unless the request is allowed; returns nothing on success, or GRANTS_NEEDED
   * when the policies alone do not allow it, a grant could, and `grants` was not given: ask again with them.
   */
  authorize(request: AuthorizeRequest): void | typeof GRANTS_NEEDED {
    const verdict = this.#policyVerdict(request);
    if (verdict === 'allow') return;
    // Grants only allow: they cannot lift an explicit deny.
    if (verdict === 'implicit-deny-resource' || verdict === 'implicit-deny-identity') {
      if (request.key && request.grants === undefined) return GRANTS_NEEDED;
      if (request.key && request.grants!.length > 0) {
        const operation = request.grantOperation ?? request.action.replace(/^kms:/i, '');
        if (grantAllows(request.grants!, request.principal, operation, request.conditions.encryptionContext,
          request.requestedGrant)) return;
      }
    }
    throw denial(request, verdict);
  }

  #policyVerdict(request: AuthorizeRequest): PolicyVerdict {
    const { principal, key, action } = request;
    const keyPolicy = key ? (request.keyPolicy ?? this.keyPolicyOf(key)) : undefined;
    const resource = key?.arn ?? '*';
    const decide = (): PolicyVerdict => decidePolicies({ principal, action, resource, conditions: request.conditions },
      keyPolicy, key?.account);
    if (!isConditionFree(keyPolicy, principal)) return decide();
    const byAction = this.#verdictsFor(keyPolicy, principal, resource);
    if (!byAction) return decide();
    let verdict = byAction.get(action);
    if (verdict === undefined) {
      verdict = decide();
      byAction.set(action, verdict);
    }
    return verdict;
  }

  /** The (policy, principal) verdict map; undefined when this policy object was cached for another key. */
  #verdictsFor(keyPolicy: CompiledPolicy | undefined, principal: Principal, resource: string): Map<string, PolicyVerdict> | undefined {
    let byPrincipal: WeakMap<Principal, Map<string, PolicyVerdict>>;
    if (keyPolicy === undefined) {
      byPrincipal = this.#keylessVerdicts;
    } else {
      let table = this.#verdicts.get(keyPolicy);
      if (!table) {
        table = { resource, byPrincipal: new WeakMap() };
        this.#verdicts.set(keyPolicy, table);
      } else if (table.resource !== resource) {
        return undefined;
      }
      byPrincipal = table.byPrincipal;
    }
    let byAction = byPrincipal.get(principal);
    if (!byAction) {
      byAction = new Map();
      byPrincipal.set(principal, byAction);
    }
    return byAction;
  }
}
