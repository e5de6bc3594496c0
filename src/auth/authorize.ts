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
  /** With no key: the resource ARN when it is not '*' (an alias's); identity policies only. */
  resource?: string;
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
  /** The key is the one a ciphertext names, not one the caller named: a refusal does not name it (context.ts). */
  keyFromCiphertext?: boolean;
  /** CreateGrant: the grant being created, which a grant allowing CreateGrant must cover. */
  requestedGrant?: RequestedGrant;
}

export interface AuthorizerOptions {
  /** Cached compiled key policies (one per key; a new key version replaces its entry). */
  maxPolicies?: number;
}

/** authorize()'s answer when only the key's grants, not yet read, could allow the request. */
export const GRANTS_NEEDED = Symbol('grants needed');

/**
 * Verdicts per (principal, action) for one compiled key policy, valid for the resource they were made for.
 * The last principal's map is also held directly: a hot key is mostly called by one principal, and a WeakMap
 * lookup in a table per key is a few cache misses once requests spread over thousands of keys. (That holds
 * one principal object per table strongly, at most one per cached policy.)
 */
class VerdictTable {
  readonly #byPrincipal = new WeakMap<Principal, Map<string, PolicyVerdict>>();
  #lastPrincipal: Principal | undefined;
  #lastByAction: Map<string, PolicyVerdict> | undefined;

  constructor(readonly resource: string) {}

  byAction(principal: Principal): Map<string, PolicyVerdict> {
    if (principal === this.#lastPrincipal) return this.#lastByAction!;
    let byAction = this.#byPrincipal.get(principal);
    if (!byAction) {
      byAction = new Map();
      this.#byPrincipal.set(principal, byAction);
    }
    this.#lastPrincipal = principal;
    this.#lastByAction = byAction;
    return byAction;
  }
}

/** A key's compiled policy for one version of the key, with its verdicts. */
interface KeyPolicyEntry {
  readonly version: number;
  readonly policy: CompiledPolicy;
  readonly verdicts: VerdictTable;
}

function denial(request: AuthorizeRequest, verdict: Exclude<PolicyVerdict, 'allow'>): KmsError {
  const { action, principal, key } = request;
  const tails: Record<typeof verdict, string> = {
    'explicit-deny-resource': 'with an explicit deny in a resource-based policy',
    'explicit-deny-identity': 'with an explicit deny in an identity-based policy',
    'implicit-deny-resource': `because no resource-based policy allows the ${action} action`,
    'implicit-deny-identity': `because no identity-based policy allows the ${action} action`,
  };
  const resource = request.keyFromCiphertext === true ? 'the resource associated with this ciphertext' : `resource: ${resourceOf(request)}`;
  return new KmsError('AccessDeniedException',
    `User: ${principal.arn} is not authorized to perform: ${action} on ${resource} ${tails[verdict]}`);
}

/**
 * Decision caches are keyed by object identity, not strings: a key's compiled policy (one per key id and
 * version, with its verdict table in the same cache entry) and the Principal object from the IdentityDirectory
 * (stable for the process). A cached verdict is then one LRU get and two Map gets, cheaper than evaluating even
 * the default policy. Entries go when their key's entry or principal is garbage; per (policy, principal) at
 * most one entry per action.
 */
export class Authorizer {
  readonly #policies: LRUCache<string, KeyPolicyEntry>;
  /**
   * Compiled policies by their text: keys with the same policy (most keep the default one) share one compiled
   * object, which stays in the CPU's caches and in the heap once instead of once per key.
   */
  readonly #compiledByText = new LRUCache<string, CompiledPolicy>({
    maxSize: 4 * 1024 * 1024, sizeCalculation: (_policy, text) => text.length || 1,
  });
  /** Tables of policies the caller compiled itself (AuthorizeRequest.keyPolicy). */
  readonly #suppliedVerdicts = new WeakMap<CompiledPolicy, VerdictTable>();
  readonly #keylessVerdicts = new VerdictTable('*');

  constructor(options: AuthorizerOptions = {}) {
    // Sized for a hot set of tens of thousands of keys: a miss recompiles the policy (several microseconds).
    this.#policies = new LRUCache({ max: options.maxPolicies ?? 50_000 });
  }

  /** The key's policy compiled, cached per key id for its current version. Throws only if a stored policy is invalid. */
  keyPolicyOf(key: KeyRecord): CompiledPolicy {
    return this.#entryOf(key).policy;
  }

  #entryOf(key: KeyRecord): KeyPolicyEntry {
    const cached = this.#policies.get(key.keyId);
    if (cached && cached.version === key.version) return cached;
    const entry = { version: key.version, policy: this.#compiled(key.policy), verdicts: new VerdictTable(key.arn) };
    this.#policies.set(key.keyId, entry);
    return entry;
  }

  #compiled(text: string): CompiledPolicy {
    let policy = this.#compiledByText.get(text);
    if (policy === undefined) {
      policy = parseKeyPolicy(text);
      this.#compiledByText.set(text, policy);
    }
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
      if (request.key) {
        if (request.grants === undefined) return GRANTS_NEEDED;
        const operation = request.grantOperation ?? request.action.replace(/^kms:/i, '');
        if (request.grants.length > 0 && grantAllows(request.grants, request.principal, operation,
          request.conditions.encryptionContext, request.requestedGrant)) return;
      }
    }
    throw denial(request, verdict);
  }

  #policyVerdict(request: AuthorizeRequest): PolicyVerdict {
    const { principal, key, action } = request;
    let keyPolicy: CompiledPolicy | undefined;
    let table: VerdictTable | undefined;
    if (key === undefined) {
      // The keyless verdicts are for resource '*'; an alias's ARN is decided afresh (alias calls are rare).
      table = request.resource === undefined ? this.#keylessVerdicts : undefined;
    } else if (request.keyPolicy === undefined) {
      const entry = this.#entryOf(key);
      keyPolicy = entry.policy;
      table = entry.verdicts;
    } else {
      keyPolicy = request.keyPolicy;
      table = this.#suppliedTable(keyPolicy, key.arn);
    }
    if (table === undefined || !isConditionFree(keyPolicy, principal)) return decide(request, keyPolicy);
    const byAction = table.byAction(principal);
    let verdict = byAction.get(action);
    if (verdict === undefined) {
      verdict = decide(request, keyPolicy);
      byAction.set(action, verdict);
    }
    return verdict;
  }

  /** The verdicts of a policy the caller compiled; undefined when that policy object was used for another key. */
  #suppliedTable(keyPolicy: CompiledPolicy, resource: string): VerdictTable | undefined {
    let table = this.#suppliedVerdicts.get(keyPolicy);
    if (!table) {
      table = new VerdictTable(resource);
      this.#suppliedVerdicts.set(keyPolicy, table);
    }
    return table.resource === resource ? table : undefined;
  }
}

/** The ARN the request acts on: its key's, else the resource it names, else the account's '*'. */
const resourceOf = (request: AuthorizeRequest): string => request.key?.arn ?? request.resource ?? '*';

/** The policies' verdict, evaluated. */
const decide = (request: AuthorizeRequest, keyPolicy: CompiledPolicy | undefined): PolicyVerdict =>
  decidePolicies({ principal: request.principal, action: request.action, resource: resourceOf(request),
    conditions: request.conditions }, keyPolicy, request.key?.account);
