// CreateAlias, UpdateAlias, DeleteAlias, ListAliases (kms-api.md sections 5.1 and 6).
import { KEY_SPECS } from '../contract/key-specs.js';
import { aliasArn } from '../keys/identifiers.js';
import { KmsError } from '../protocol/errors.js';
import { AliasGone, AliasNameTaken, type AliasRecord, type KeyRecord } from '../store/types.js';
import type { RequestContext } from './context.js';
import { pageOfRead, pageStart } from './paging.js';
import type { Operation } from './types.js';

const MAX_ALIASES_PER_KEY = 50;
const ALIAS_NAME = /^alias\/[A-Za-z0-9/_-]+$/;

function checkAliasPattern(name: string): void {
  // The usual slip (`aws kms create-alias --alias-name prod`) gets AWS KMS's own words for what is missing; the
  // name passes the model's pattern, which has no prefix in it, so no pattern would explain the refusal.
  if (!name.startsWith('alias/')) throw new KmsError('ValidationException', 'Alias must start with the prefix "alias/".');
  if (!ALIAS_NAME.test(name)) {
    throw new KmsError('ValidationException', "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$");
  }
}

/** For the names CreateAlias and UpdateAlias give: the pattern, and not in the prefix AWS keeps for itself. */
function checkAliasName(name: string): void {
  checkAliasPattern(name);
  if (name.startsWith('alias/aws/')) throw new KmsError('NotAuthorizedException', "Cannot create alias with prefix 'alias/aws/'");
}

async function targetKey(ctx: RequestContext, action: string): Promise<KeyRecord> {
  const target = ctx.input.TargetKeyId as string;
  if (target.startsWith('alias/') || /^arn:[^:]*:kms:[^:]*:\d*:alias\//.test(target)) {
    throw new KmsError('ValidationException', 'Aliases must refer to keys. Not aliases');
  }
  return ctx.useKey(target, { action, allowAlias: false, states: 'not-pending-deletion', write: true });
}

/**
 * For Keyring.pointAlias: LimitExceededException when the key's other aliases leave no room for this one. Checked
 * in the same versioned write as the alias, so concurrent CreateAlias or UpdateAlias calls cannot overshoot it.
 */
function requireAliasRoom(others: readonly AliasRecord[]): void {
  if (others.length >= MAX_ALIASES_PER_KEY) {
    throw new KmsError('LimitExceededException', `A KMS key can have at most ${MAX_ALIASES_PER_KEY} aliases.`);
  }
}

/**
 * The alias `name` names, for UpdateAlias and DeleteAlias. An alias name means one in the caller's own account:
 * this engine holds one account's (README, "Accounts"), so a caller of another account finds none. These are
 * writes: a name this node cached as missing is looked up again in the store before it is refused, as another
 * node may have created it since (a change not heard of here yet).
 */
async function ownAlias(ctx: RequestContext, name: string): Promise<AliasRecord> {
  let alias = ctx.callerOwnsKeys ? await ctx.keyring.getAlias(name) : undefined;
  if (alias === undefined && ctx.callerOwnsKeys) alias = await ctx.keyring.rereadAlias(name);
  if (alias === undefined) throw aliasNotFound(ctx, name);
  return alias;
}

const aliasNotFound = (ctx: RequestContext, name: string): KmsError =>
  new KmsError('NotFoundException', `Alias '${aliasArn(ctx.keyring.region, ctx.caller.accountId, name)}' is not found.`);

const keyType = (key: KeyRecord): string => KEY_SPECS[key.spec].family === 'symmetric' ? 'symmetric'
  : KEY_SPECS[key.spec].family === 'hmac' ? 'hmac' : 'asymmetric';

export const createAlias: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const name = input.AliasName as string;
    checkAliasName(name);
    const key = await targetKey(ctx, 'kms:CreateAlias');
    ctx.aliasArns.push(ctx.keyring.aliasArnOf(name));
    await ctx.authorizeAlias('kms:CreateAlias', name);
    const now = Date.now() / 1000;
    try {
      await ctx.keyring.pointAlias({ name, keyId: key.keyId, creationDate: now, lastUpdatedDate: now }, true, requireAliasRoom);
    } catch (error) {
      if (error instanceof AliasNameTaken) {
        throw new KmsError('AlreadyExistsException', `An alias with the name ${ctx.keyring.aliasArnOf(name)} already exists`);
      }
      throw error;
    }
    return undefined;
  },
};

export const updateAlias: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const name = input.AliasName as string;
    checkAliasName(name);
    const alias = await ownAlias(ctx, name);
    ctx.aliasArns.push(ctx.keyring.aliasArnOf(name));
    const current = await ctx.keyring.get(alias.keyId);
    // AWS requires kms:UpdateAlias on the key the alias leaves as well as on the one it moves to: otherwise a
    // principal trusted with one key could take the aliases of any other key.
    if (current !== undefined) await ctx.useKey(current.keyId, { action: 'kms:UpdateAlias', allowAlias: false, states: 'any' });
    const key = await targetKey(ctx, 'kms:UpdateAlias');
    await ctx.authorizeAlias('kms:UpdateAlias', name);
    if (current !== undefined && (keyType(current) !== keyType(key) || current.usage !== key.usage)) {
      throw new KmsError('ValidationException', 'The new target key must have the same key type and key usage as the current target key.');
    }
    // Pointing an alias at the key it already names takes no room there: requireAliasRoom counts the others.
    try {
      await ctx.keyring.pointAlias({ ...alias, keyId: key.keyId, lastUpdatedDate: Date.now() / 1000 }, false, requireAliasRoom);
    } catch (error) {
      // A DeleteAlias removed it since ownAlias found it: answered as a call a moment later would be.
      throw error instanceof AliasGone ? aliasNotFound(ctx, name) : error;
    }
    return undefined;
  },
};

export const deleteAlias: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const name = input.AliasName as string;
    checkAliasPattern(name);
    const alias = await ownAlias(ctx, name);
    ctx.aliasArns.push(ctx.keyring.aliasArnOf(name));
    const key = await ctx.keyring.get(alias.keyId);
    if (key !== undefined) await ctx.useKey(key.keyId, { action: 'kms:DeleteAlias', allowAlias: false, states: 'any' });
    await ctx.authorizeAlias('kms:DeleteAlias', name);
    // Another DeleteAlias (here, on another front end or node) may have removed it since ownAlias found it: only
    // the call whose delete removed the alias succeeds, the others answer as a call a moment later would.
    if (!await ctx.keyring.deleteAlias(name)) throw aliasNotFound(ctx, name);
    return undefined;
  },
};

export const listAliases: Operation = {
  readOnly: true,
  async run(input, ctx) {
    let keyId: string | undefined;
    if (input.KeyId !== undefined) {
      const { key } = await ctx.resolveKey(input.KeyId as string, false);
      ctx.noteKey(key); // resolved, not used: IAM alone decides (below)
      keyId = key.keyId;
    }
    // kms:ListAliases is an IAM permission on '*', even with a KeyId filter: AWS consults no key policy for it.
    await ctx.authorizeAccount('kms:ListAliases');
    // The caller's own account's aliases: none here for another account's caller.
    if (keyId === undefined && !ctx.callerOwnsKeys) return { Aliases: [], Truncated: false };
    // The store reads the page alone, in name order, resuming after the marker's name wherever it now stands
    // (pageAfter explains why): one page costs the same at the end of 100,000 aliases as at their start.
    const listing = `ListAliases\n${keyId ?? ''}`;
    const { after, limit } = pageStart(input, 50, 100, listing);
    const read = await ctx.keyring.store.listAliasesAfter(keyId, after, limit + 1);
    const { items, truncated, nextMarker } = pageOfRead(read, limit, (alias) => alias.name, listing);
    const aliases = items.map((alias) => ({
      AliasName: alias.name,
      AliasArn: ctx.keyring.aliasArnOf(alias.name),
      TargetKeyId: alias.keyId,
      CreationDate: alias.creationDate,
      LastUpdatedDate: alias.lastUpdatedDate,
    }));
    return { Aliases: aliases, Truncated: truncated, NextMarker: nextMarker };
  },
};
