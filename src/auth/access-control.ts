// The engine's AccessControl: SigV4-authenticated principals checked against key policies, identity policies
// and grants (src/auth/authorize.ts), with each key's grants cached so the hot path reads no store.
import { LRUCache } from 'lru-cache';
import type { AccessControl, AuthorizationRequest, Caller, KeyPolicyTarget } from '../operations/context.js';
import type { GrantConstraints, GrantRecord, KeyRecord, KeyStore } from '../store/types.js';
import { Authorizer, GRANTS_NEEDED, type AuthorizeRequest } from './authorize.js';
import { conditionKeysFor } from './condition-keys.js';
import { decodeGrantToken, type RequestedGrant } from './grants.js';
import type { IdentityDirectory, Principal } from './identities.js';
import { decidePolicies } from './policy/decision.js';
import { checkLockout, checkPrincipalsExist, defaultKeyPolicy } from './policy/index.js';
import { checkSidsUnique, parseKeyPolicy } from './policy/document.js';
import { splitArn } from './policy/wildcard.js';

/** A condition key that needs the key's aliases, read from the store only when a policy tests it. */
const RESOURCE_ALIASES = 'kms:resourcealiases';

/** ReEncrypt is authorized twice, each with its own side's encryption context. */
const conditionOperation = (operation: string, action: string): string =>
  operation === 'ReEncrypt' ? action.replace(/^kms:/, '') : operation;

/** The account in a resource ARN (an alias's), for aws:ResourceAccount; undefined for '*'. */
const resourceAccountOf = (resource: string | undefined): string | undefined =>
  resource === undefined ? undefined : splitArn(resource)?.[4];

/** The grant a CreateGrant request asks for (already validated against the model by the pipeline). */
const requestedGrantOf = (input: Record<string, unknown>): RequestedGrant => ({
  operations: Array.isArray(input.Operations) ? input.Operations as string[] : [],
  ...(input.Constraints !== undefined ? { constraints: input.Constraints as GrantConstraints } : {}),
});

export class PolicyAccessControl implements AccessControl {
  private readonly authorizer = new Authorizer();
  private readonly grants = new LRUCache<string, readonly GrantRecord[]>({ max: 100_000 });

  constructor(private readonly directory: IdentityDirectory, private readonly store: KeyStore,
    private readonly accountId: string, private readonly partition = 'aws', private readonly region?: string) {}

  async authorize(request: AuthorizationRequest): Promise<void> {
    const principal = request.caller as Principal;
    const tokens = request.input.GrantTokens as string[] | undefined;
    const tokenGrants = tokens?.map(decodeGrantToken);
    const resourceAliases = request.key !== undefined && this.policiesTest(request.key, principal, RESOURCE_ALIASES)
      ? (await this.store.listAliases(request.key.keyId)).map((alias) => alias.name) : undefined;
    const conditions = conditionKeysFor(conditionOperation(request.operation, request.action), request.input,
      request.key, principal, {
        requestAlias: request.requestAlias, reEncryptOnSameKey: request.reEncryptOnSameKey, resourceAliases, sourceIp: request.sourceIp,
        requestedRegion: this.region, secureTransport: request.secureTransport, resourceAccount: resourceAccountOf(request.resource),
      });
    const decision: AuthorizeRequest = {
      principal, action: request.action, key: request.key, conditions, grants: undefined, grantOperation: request.grantOperation,
      ...(request.resource !== undefined ? { resource: request.resource } : {}),
      ...(request.keyFromCiphertext === true ? { keyFromCiphertext: true } : {}),
      ...(request.operation === 'CreateGrant' ? { requestedGrant: requestedGrantOf(request.input) } : {}),
    };
    // The key's grants are read only when the policies alone do not allow the call (most calls never need them).
    if (this.authorizer.authorize(decision) === GRANTS_NEEDED) {
      const keyId = request.key!.keyId;
      decision.grants = await this.grantsOf(keyId, tokenGrants?.filter((grant) => grant.keyId === keyId).map((grant) => grant.grantId));
      this.authorizer.authorize(decision);
    }
  }

  /** Whether the key's policy or the caller's identity policies test condition key `key` (lowercase). */
  private policiesTest(key: KeyRecord, principal: Principal, conditionKey: string): boolean {
    return principal.identityPolicies.some((policy) => policy.testsConditionKey(conditionKey))
      || this.authorizer.keyPolicyOf(key).testsConditionKey(conditionKey);
  }

  identityPoliciesSay(request: AuthorizationRequest & { resource: string }): 'allow' | 'deny' | 'none' {
    const principal = request.caller as Principal;
    const conditions = conditionKeysFor(request.operation, request.input, undefined, principal,
      { sourceIp: request.sourceIp, requestedRegion: this.region, secureTransport: request.secureTransport,
        resourceAccount: resourceAccountOf(request.resource) });
    const verdict = decidePolicies({ principal, action: request.action, resource: request.resource, conditions }, undefined);
    return verdict === 'allow' ? 'allow' : verdict === 'explicit-deny-identity' ? 'deny' : 'none';
  }

  defaultKeyPolicy(): string {
    return defaultKeyPolicy(this.accountId, this.partition);
  }

  validateKeyPolicy(policy: string, caller: Caller, bypassLockoutSafetyCheck: boolean, target: KeyPolicyTarget): void {
    const compiled = parseKeyPolicy(policy);
    checkSidsUnique(compiled);
    checkPrincipalsExist(compiled, this.directory, this.accountId);
    if (!bypassLockoutSafetyCheck) {
      checkLockout(compiled, caller as Principal, target.arn, { key: target.key, sourceIp: target.sourceIp, secureTransport: target.secureTransport });
    }
  }

  grantsChanged(keyId?: string): void {
    if (keyId === undefined) this.grants.clear();
    else this.grants.delete(keyId);
  }

  /**
   * The key's grants, cached. A grant token naming a grant of the key that the cached list lacks means the grant
   * was created after the list was read (on another node, not heard of yet): the list is read again, so the new
   * grant works at once with its token, as AWS KMS documents grant tokens.
   */
  private async grantsOf(keyId: string, tokenGrantIds: readonly string[] = []): Promise<readonly GrantRecord[]> {
    let grants = this.grants.get(keyId);
    if (grants !== undefined && tokenGrantIds.some((grantId) => !grants!.some((grant) => grant.grantId === grantId))) grants = undefined;
    if (grants === undefined) {
      grants = await this.store.listGrants(keyId);
      this.grants.set(keyId, grants);
    }
    return grants;
  }
}
