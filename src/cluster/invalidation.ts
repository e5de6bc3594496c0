// What a change committed by another node means for this node's caches: the keyring's key and alias entries,
// the workers' unwrapped key material (CryptoPool.evict) and access control's per-key grant lists.
import type { Keyring } from '../keys/keyring.js';
import type { AccessControl } from '../operations/context.js';
import type { CryptoPool } from '../pool/crypto-pool.js';
import type { StoreChange } from './change-feed.js';

export interface CachedViews {
  keyring: Keyring;
  pool: Pick<CryptoPool, 'evict'>;
  access: Pick<AccessControl, 'grantsChanged'>;
}

export function dropChanged(views: CachedViews, change: Pick<StoreChange, 'kind' | 'subject'>): void {
  switch (change.kind) {
    case 'key':
      // Disabled, deleted or rotated elsewhere: the next request reloads the record, and workers must not keep
      // using material the key may no longer allow. The policy-decision cache keys on the record's version.
      views.keyring.invalidate({ keyId: change.subject });
      views.pool.evict([change.subject]);
      return;
    case 'alias':
      views.keyring.invalidate({ aliasName: change.subject });
      return;
    case 'grant':
      views.access.grantsChanged?.(change.subject);
      return;
  }
}

/**
 * The node cannot tell what changed (it cannot read the store at all): drop every cached key, alias and grant
 * list, so each request reads the store again (and fails, AWS-shaped, while it is unreachable).
 */
export function dropAll(views: CachedViews): void {
  views.keyring.clear();
  views.access.grantsChanged?.();
}

/** Changes may have been missed: drop every cached key, alias and grant list this node could hold. */
export async function dropEverything(views: CachedViews): Promise<void> {
  const { keyring } = views;
  const PAGE = 1_000;
  for (let after: string | undefined; ;) {
    const keyIds = await keyring.store.listKeyIds(after, PAGE);
    for (const keyId of keyIds) {
      keyring.invalidate({ keyId });
      views.access.grantsChanged?.(keyId);
    }
    views.pool.evict(keyIds);
    if (keyIds.length < PAGE) break;
    after = keyIds.at(-1);
  }
  for (const alias of await keyring.store.listAliases()) keyring.invalidate({ aliasName: alias.name });
}
