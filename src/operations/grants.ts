// CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant (kms-api.md section 8.4). Grants
// take effect at once: this engine is strongly consistent, and grant tokens are checked, then accepted.
import { isDeepStrictEqual } from 'node:util';
import {
  checkGrantPrincipalArn, checkOneContextConstraint, decodeGrantToken, encodeGrantToken, mayRetireGrant, newGrantId,
  retireMayBeDelegatedTo, validateGrantRequest,
} from '../auth/grants.js';
import type { Principal } from '../auth/identities.js';
import { accountRootArn, isAccountId, parsePrincipalArn } from '../auth/policy/principal-arn.js';
import { partitionOf } from '../contract/partition.js';
import { KmsError } from '../protocol/errors.js';
import { GrantLimitReached, type GrantConstraints, type GrantRecord, type KeyRecord, type PlacedGrant } from '../store/types.js';
import { dryRunWouldSucceed, type RequestContext } from './context.js';
import { pageOfRead, pageStart, wholePosition } from './paging.js';
import type { Operation } from './types.js';

const MAX_GRANTS_PER_KEY = 50_000;
const GRANT_ID = /^[0-9a-f]{64}$/;
const invalidGrantId = (): KmsError => new KmsError('InvalidGrantIdException', 'The grant ID is not valid.');
const grantLimitExceeded = (): KmsError =>
  new KmsError('LimitExceededException', `A KMS key can have at most ${MAX_GRANTS_PER_KEY} grants.`);

function grantsChanged(ctx: RequestContext, keyId: string): void {
  ctx.engine.access.grantsChanged?.(keyId);
}

function requireNoDryRun(ctx: RequestContext): void {
  if (ctx.input.DryRun === true) throw dryRunWouldSucceed();
}

type GrantTerms = Pick<GrantRecord, 'name' | 'granteePrincipal' | 'granteeServicePrincipal' | 'retiringPrincipal'
  | 'retiringServicePrincipal' | 'operations' | 'constraints'>;

/**
 * A CreateGrant retried "with identical parameters" (the model's words for Name): same name, grantee, retiring
 * principal, operations and constraints, in any order. A name alone does not make a grant the same one: a call
 * with other terms gets a new grant, rather than an old one that does not grant what it asked for.
 */
const sameTerms = (grant: GrantRecord, terms: GrantTerms): boolean =>
  grant.name === terms.name && grant.granteePrincipal === terms.granteePrincipal
  && grant.granteeServicePrincipal === terms.granteeServicePrincipal
  && grant.retiringPrincipal === terms.retiringPrincipal
  && grant.retiringServicePrincipal === terms.retiringServicePrincipal
  && isDeepStrictEqual([...grant.operations].sort(), [...terms.operations].sort())
  && isDeepStrictEqual(grant.constraints?.EncryptionContextSubset, terms.constraints?.EncryptionContextSubset)
  && isDeepStrictEqual(grant.constraints?.EncryptionContextEquals, terms.constraints?.EncryptionContextEquals)
  && grant.constraints?.SourceArn === terms.constraints?.SourceArn;

// Absent members are left out of the answer (JSON.stringify drops undefined).
const listEntry = (key: KeyRecord, grant: GrantRecord, partition: string) => ({
  KeyId: key.arn,
  GrantId: grant.grantId,
  Name: grant.name,
  CreationDate: grant.creationDate,
  GranteePrincipal: grant.granteePrincipal,
  GranteeServicePrincipal: grant.granteeServicePrincipal,
  RetiringPrincipal: grant.retiringPrincipal,
  RetiringServicePrincipal: grant.retiringServicePrincipal,
  IssuingAccount: accountRootArn(grant.issuingAccount, partition),
  Operations: grant.operations,
  Constraints: grant.constraints,
});

/**
 * CreateGrant's rules on who the grant names, checked before the key is looked up (kms-api.md section 6, the
 * model's CreateGrant documentation): exactly one grantee, at most one retiring principal, and a grant to a
 * service principal needs a SourceArn constraint and a retiring principal.
 */
function checkGrantPrincipals(input: Record<string, unknown>): void {
  if ((input.GranteePrincipal === undefined) === (input.GranteeServicePrincipal === undefined)) {
    throw new KmsError('ValidationException', 'You must specify either GranteePrincipal or GranteeServicePrincipal, but not both.');
  }
  if (input.RetiringPrincipal !== undefined && input.RetiringServicePrincipal !== undefined) {
    throw new KmsError('ValidationException', 'You can specify either RetiringPrincipal or RetiringServicePrincipal, but not both.');
  }
  if (input.GranteeServicePrincipal === undefined) return;
  if ((input.Constraints as GrantConstraints | undefined)?.SourceArn === undefined) {
    throw new KmsError('ValidationException', 'A grant to a service principal (GranteeServicePrincipal) requires a SourceArn grant constraint.');
  }
  if (input.RetiringPrincipal === undefined && input.RetiringServicePrincipal === undefined) {
    throw new KmsError('ValidationException',
      'A grant to a service principal (GranteeServicePrincipal) requires a RetiringPrincipal or RetiringServicePrincipal.');
  }
}

export const createGrant: Operation = {
  readOnly: false,
  async run(input, ctx) {
    checkGrantPrincipals(input);
    checkOneContextConstraint(input.Constraints as GrantConstraints | undefined);
    const key = await ctx.useKey(input.KeyId as string, {
      action: 'kms:CreateGrant', allowAlias: false, states: 'enabled', grantOperation: 'CreateGrant', write: true,
    });
    for (const principal of [input.GranteePrincipal, input.RetiringPrincipal]) {
      if (principal !== undefined) checkGrantPrincipalArn(principal as string);
    }
    // A grant's operations are a set: an operation named twice allows nothing more. Keeping every copy let one
    // request of 1 MiB store a grant of 100,000 operations, which every ListGrants of the key then answered in full.
    const operations = [...new Set(input.Operations as string[])];
    const constraints = input.Constraints as GrantConstraints | undefined;
    validateGrantRequest(key, operations, constraints);
    requireNoDryRun(ctx);
    const grants = await ctx.keyring.store.listGrants(key.keyId);
    const terms: GrantTerms = {
      name: input.Name as string | undefined,
      granteePrincipal: input.GranteePrincipal as string | undefined,
      granteeServicePrincipal: input.GranteeServicePrincipal as string | undefined,
      retiringPrincipal: input.RetiringPrincipal as string | undefined,
      retiringServicePrincipal: input.RetiringServicePrincipal as string | undefined,
      operations,
      constraints,
    };
    const existing = terms.name === undefined ? undefined : grants.find((grant) => sameTerms(grant, terms));
    if (existing !== undefined) return { GrantToken: encodeGrantToken(existing), GrantId: existing.grantId };
    if (grants.length >= MAX_GRANTS_PER_KEY) throw grantLimitExceeded();
    const grant: GrantRecord = {
      grantId: newGrantId(),
      keyId: key.keyId,
      ...terms,
      issuingAccount: ctx.caller.accountId,
      creationDate: Date.now() / 1000,
    };
    // The store looks and counts again as it inserts: a call racing with this one (same name and terms, or the
    // key's last place, on any front end or node) may have made a grant since the list above.
    const stored = await ctx.keyring.store.insertGrant(grant,
      terms.name === undefined ? undefined : (other) => sameTerms(other, terms), MAX_GRANTS_PER_KEY)
      .catch((error: unknown) => { throw error instanceof GrantLimitReached ? grantLimitExceeded() : error; });
    if (stored === grant) grantsChanged(ctx, key.keyId);
    return { GrantToken: encodeGrantToken(stored), GrantId: stored.grantId };
  },
};

/** A filtered listing reads its grants in chunks of at least this many: a filter few match costs few reads. */
const GRANT_READ_CHUNK = 500;

/**
 * A page of ListGrants or ListRetirableGrants: the grants of `of` that `matches` accepts, in the order they were
 * stored, after the place the marker names (where it now stands: see pageAfter). The store reads from that place a
 * chunk at a time until the page and one more grant (more remain) are found or the grants run out, so a page costs
 * the same at the end of a key's 50,000 grants as at their start.
 */
async function grantPage(ctx: RequestContext, of: { keyId: string } | { retiringPrincipal: string },
  matches: (grant: GrantRecord) => boolean, listing: string): Promise<{ items: GrantRecord[]; nextMarker?: string; truncated: boolean }> {
  const { after, limit } = pageStart(ctx.input, 50, 100, listing);
  const wanted = limit + 1;
  const found: PlacedGrant[] = [];
  let place = wholePosition(after) ?? 0;
  for (let size = wanted; found.length < wanted; size = Math.max(wanted, GRANT_READ_CHUNK)) {
    const chunk = await ctx.keyring.store.listGrantsAfter(of, place, size);
    found.push(...chunk.filter((placed) => matches(placed.grant)));
    if (chunk.length < size) break;
    place = chunk[chunk.length - 1]!.place;
  }
  const page = pageOfRead(found.slice(0, wanted), limit, (placed) => String(placed.place), listing);
  return { ...page, items: page.items.map((placed) => placed.grant) };
}

export const listGrants: Operation = {
  readOnly: true,
  async run(input, ctx) {
    if (input.GranteePrincipal !== undefined && input.GranteeServicePrincipal !== undefined) {
      throw new KmsError('ValidationException', 'You can specify either GranteePrincipal or GranteeServicePrincipal, but not both.');
    }
    // A GrantId filter that cannot be a grant id is refused, as RetireGrant and RevokeGrant refuse it.
    if (input.GrantId !== undefined && !GRANT_ID.test(input.GrantId as string)) throw invalidGrantId();
    const key = await ctx.useKey(input.KeyId as string, { action: 'kms:ListGrants', allowAlias: false, states: 'any' });
    const { items, truncated, nextMarker } = await grantPage(ctx, { keyId: key.keyId }, (grant) =>
      (input.GrantId === undefined || grant.grantId === input.GrantId)
      && (input.GranteePrincipal === undefined || grant.granteePrincipal === input.GranteePrincipal)
      && (input.GranteeServicePrincipal === undefined || grant.granteeServicePrincipal === input.GranteeServicePrincipal),
    ['ListGrants', key.keyId, input.GrantId, input.GranteePrincipal, input.GranteeServicePrincipal].join('\n'));
    return { Grants: items.map((grant) => listEntry(key, grant, partitionOf(key.region))), Truncated: truncated, NextMarker: nextMarker };
  },
};

/**
 * ListRetirableGrants by RetiringPrincipal (the model's documentation): the authorized resource is that principal,
 * so the caller's IAM policies must allow kms:ListRetirableGrants on its ARN, and it must be a principal of the
 * caller's own account, which no resource policy of another account opens to it.
 */
async function authorizeListRetirable(ctx: RequestContext, retiringPrincipal: string): Promise<void> {
  await ctx.authorizeOn('kms:ListRetirableGrants', retiringPrincipal);
  const account = isAccountId(retiringPrincipal) ? retiringPrincipal : parsePrincipalArn(retiringPrincipal)?.accountId;
  if (account !== undefined && account !== ctx.caller.accountId) {
    throw new KmsError('AccessDeniedException', `User: ${ctx.caller.arn} is not authorized to perform: kms:ListRetirableGrants `
      + `on resource: ${retiringPrincipal} because no resource-based policy allows the kms:ListRetirableGrants action`);
  }
}

export const listRetirableGrants: Operation = {
  readOnly: true,
  async run(input, ctx) {
    if ((input.RetiringPrincipal === undefined) === (input.RetiringServicePrincipal === undefined)) {
      throw new KmsError('ValidationException', 'Exactly one of RetiringPrincipal and RetiringServicePrincipal is required.');
    }
    if (input.RetiringPrincipal !== undefined) await authorizeListRetirable(ctx, input.RetiringPrincipal as string);
    else await ctx.authorizeAccount('kms:ListRetirableGrants');
    // The store finds both kinds of retiring principal by name; keep the kind asked for.
    const { items, truncated, nextMarker } = await grantPage(ctx,
      { retiringPrincipal: (input.RetiringPrincipal ?? input.RetiringServicePrincipal) as string },
      (grant) => input.RetiringPrincipal !== undefined ? grant.retiringPrincipal === input.RetiringPrincipal
        : grant.retiringServicePrincipal === input.RetiringServicePrincipal,
      ['ListRetirableGrants', input.RetiringPrincipal, input.RetiringServicePrincipal].join('\n'));
    const entries = items.map((grant) =>
      listEntry({ arn: ctx.keyring.arnOf(grant.keyId) } as KeyRecord, grant, partitionOf(ctx.keyring.region)));
    return { Grants: entries, Truncated: truncated, NextMarker: nextMarker };
  },
};

async function findGrant(ctx: RequestContext, keyId: string, grantId: string): Promise<GrantRecord> {
  if (!GRANT_ID.test(grantId)) throw invalidGrantId();
  const grant = await ctx.keyring.store.getGrant(grantId);
  if (grant === undefined || grant.keyId !== keyId) {
    throw new KmsError('NotFoundException', `Grant ID ${grantId} not found`);
  }
  return grant;
}

// Another RetireGrant or RevokeGrant (on this front end, another, or another node) may remove the grant between
// findGrant and the delete: only the call whose delete removed it succeeds, the others see it gone, as they would
// had they come a moment later.
async function deleteFoundGrant(ctx: RequestContext, grant: GrantRecord): Promise<void> {
  if (!await ctx.keyring.store.deleteGrant(grant.grantId)) {
    throw new KmsError('NotFoundException', `Grant ID ${grant.grantId} not found`);
  }
}

export const retireGrant: Operation = {
  readOnly: false,
  async run(input, ctx) {
    let keyId: string;
    let grantId: string;
    if (input.GrantToken !== undefined) {
      ({ keyId, grantId } = decodeGrantToken(input.GrantToken as string));
    } else if (input.KeyId !== undefined && input.GrantId !== undefined) {
      // RetireGrant works across accounts: another account's caller names the key by ARN.
      keyId = (await ctx.resolveKey(input.KeyId as string, false)).key.keyId;
      grantId = input.GrantId as string;
    } else {
      throw new KmsError('ValidationException', 'Either GrantToken or both KeyId and GrantId must be specified.');
    }
    const grant = await findGrant(ctx, keyId, grantId);
    const keyArn = ctx.keyring.arnOf(keyId);
    ctx.keyArns.push(keyArn);
    // Who may retire (AWS): the retiring principal, a grantee whose grant allows RetireGrant, or the issuing account;
    // IAM can add principals the key's account (or a retiring account) delegates kms:RetireGrant to, and its explicit
    // Deny stops anyone. No key policy takes part.
    const caller = ctx.caller as Principal;
    const iam = ctx.identityPoliciesSay('kms:RetireGrant', keyArn);
    if (iam === 'deny') {
      throw new KmsError('AccessDeniedException',
        `User: ${caller.arn} is not authorized to perform: kms:RetireGrant on resource: ${keyArn} with an explicit deny in an identity-based policy`);
    }
    const delegated = iam === 'allow' && retireMayBeDelegatedTo(grant, caller, ctx.keyring.account);
    if (!delegated && !mayRetireGrant(grant, caller)) {
      throw new KmsError('AccessDeniedException', `User: ${caller.arn} is not authorized to perform: kms:RetireGrant on resource: ${keyArn}`);
    }
    requireNoDryRun(ctx);
    await deleteFoundGrant(ctx, grant);
    grantsChanged(ctx, keyId);
    return undefined;
  },
};

export const revokeGrant: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await ctx.useKey(input.KeyId as string, { action: 'kms:RevokeGrant', allowAlias: false, states: 'any' });
    const grant = await findGrant(ctx, key.keyId, input.GrantId as string);
    requireNoDryRun(ctx);
    await deleteFoundGrant(ctx, grant);
    grantsChanged(ctx, key.keyId);
    return undefined;
  },
};
