// The main thread's view of keys and aliases: a bounded cache over the store, so the hot path resolves a key
// without a store read, and the one place keys change. Every change is written durably first, then cached;
// changes to one key are serialized, so concurrent requests never lose each other's writes.
import { LRUCache } from 'lru-cache';
import { KmsError } from '../protocol/errors.js';
import { AliasGone, StoreConflict, copyKeyRecord, type AliasRecord, type AliasWrite, type KeyRecord, type KeyStore } from '../store/types.js';
import { aliasArn, aliasNotFound, keyArn, keyNotFound, parseKeyIdentifier, type KeyIdentifier } from './identifiers.js';
import { expireImportedMaterial, materialExpired } from './imported-material.js';

export interface ResolvedKey {
  key: KeyRecord;
  /** The alias the caller named the key by, for kms:RequestAlias. */
  alias?: string;
}

/**
 * Who is asking, for resolving a KeyId: a key id or alias name means one in the caller's own account, and
 * only operations AWS allows across accounts take another account's key, by ARN (kms-api.md section 4).
 */
export interface CallerScope {
  account: string;
  crossAccount: boolean;
}

export interface KeyringEvents {
  /** A key's material may no longer be used by workers (disabled, deleted, rotated). */
  onKeyRetired?(keyId: string): void;
  /** A key or alias changed: other nodes' caches must drop it (multi-node stores). */
  onChanged?(change: { keyId?: string; aliasName?: string }): void;
  /**
   * Imported material past its ValidTo was deleted when the key was next used (before the scheduler got to it):
   * the DeleteExpiredKeyMaterial event the scheduler would have recorded. Awaited before the request goes on.
   */
  onMaterialExpired?(keyArn: string): void | Promise<void>;
}

/**
 * How often a write to one key is reapplied after another node's write to it won the race. Each round some
 * node's write commits, so this many rounds outlast any realistic number of nodes writing one key at once.
 */
const CONFLICT_RETRIES = 20;
const conflictPause = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 + attempt * 2, 20)));

export class Keyring {
  private readonly keys = new LRUCache<string, KeyRecord>({ max: 200_000 });
  /** Boxed so a known-missing alias is cached too. */
  private readonly aliases = new LRUCache<string, { alias?: AliasRecord }>({ max: 200_000 });
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly store: KeyStore, readonly region: string, readonly account: string,
    private readonly events: KeyringEvents = {}) {}

  arnOf(keyId: string): string {
    return keyArn(this.region, this.account, keyId);
  }

  aliasArnOf(aliasName: string): string {
    return aliasArn(this.region, this.account, aliasName);
  }

  async get(keyId: string): Promise<KeyRecord | undefined> {
    const cached = this.keys.get(keyId);
    if (cached !== undefined) return cached;
    const stored = await this.store.getKey(keyId);
    if (stored !== undefined) this.keys.set(keyId, stored);
    return stored;
  }

  /**
   * Resolves a KeyId parameter to an existing key; NotFoundException otherwise. Without `caller`, the identifier
   * is read as this engine's account would read it (a ciphertext's own key id, say).
   */
  async resolve(identifier: string, allowAlias: boolean, caller?: CallerScope): Promise<ResolvedKey> {
    const parsed = parseKeyIdentifier(identifier, this.region, this.account, allowAlias);
    if (caller !== undefined && caller.account !== this.account && !(parsed.viaArn && caller.crossAccount)) {
      throw this.notFoundFor(identifier, parsed, caller.account);
    }
    if (parsed.kind === 'alias') {
      const alias = await this.getAlias(parsed.aliasName);
      const key = alias === undefined ? undefined : await this.get(alias.keyId);
      if (key === undefined) throw aliasNotFound(this.aliasArnOf(parsed.aliasName));
      return { key: await this.withoutExpiredMaterial(key), alias: parsed.aliasName };
    }
    const key = await this.get(parsed.keyId);
    if (key === undefined) throw keyNotFound(this.arnOf(parsed.keyId));
    return { key: await this.withoutExpiredMaterial(key) };
  }

  /**
   * A caller of another account naming a key or alias by id or name names one in its own account, which this
   * engine does not hold; by ARN, it names ours, but only where the operation works across accounts.
   */
  private notFoundFor(identifier: string, parsed: KeyIdentifier, callerAccount: string): KmsError {
    if (parsed.viaArn) return parsed.kind === 'key' ? keyNotFound(identifier) : aliasNotFound(identifier);
    return parsed.kind === 'key'
      ? keyNotFound(keyArn(this.region, callerAccount, parsed.keyId))
      : aliasNotFound(aliasArn(this.region, callerAccount, parsed.aliasName));
  }

  /** Imported material past its ValidTo is deleted on first use, before the scheduler gets to it. */
  private withoutExpiredMaterial(key: KeyRecord): KeyRecord | Promise<KeyRecord> {
    return materialExpired(key) ? this.expireMaterial(key.keyId) : key;
  }

  private async expireMaterial(keyId: string): Promise<KeyRecord> {
    const { key, expired } = await expireImportedMaterial(this, keyId);
    if (expired) await this.events.onMaterialExpired?.(key.arn);
    return key;
  }

  async create(record: KeyRecord): Promise<void> {
    await this.store.insertKey(record);
    this.keys.set(record.keyId, record);
  }

  /**
   * Applies `change` to a copy of the key and stores it durably; returns the stored record. `change` may throw
   * a KmsError to refuse (nothing is written). Serialized per key; reapplied to the stored record if another node won the race.
   */
  async mutate(keyId: string, change: (draft: KeyRecord) => void | Promise<void>, retire = false): Promise<KeyRecord> {
    return this.update(keyId, change, retire);
  }

  /**
   * Points `alias` at its key (alias.keyId): a new alias, or one moved there. `requireRoom` gets the key's other
   * aliases and may throw a KmsError to refuse. The alias is written together with a new version of the key, so
   * of two alias writes to one key that raced (requests, front ends or nodes) the later finds the version moved,
   * and counts again: a key's alias limit holds under concurrency the way its tag limit does. A new alias whose
   * name exists fails with AliasNameTaken.
   */
  async pointAlias(alias: AliasRecord, isNew: boolean, requireRoom: (others: readonly AliasRecord[]) => void): Promise<void> {
    try {
      await this.update(alias.keyId, async () => {
        requireRoom((await this.store.listAliases(alias.keyId)).filter((each) => each.name !== alias.name));
      }, false, { alias, isNew });
    } catch (error) {
      // Deleted since it was read: caching the moved alias would bring it back to life on this front end.
      if (error instanceof AliasGone) this.aliases.delete(alias.name);
      throw error;
    }
    // Forgotten, not cached as written: a DeleteAlias on another front end or node may have come after this write
    // and its invalidation reached here before this line; the next use reads the alias as stored.
    this.aliases.delete(alias.name);
    this.events.onChanged?.({ aliasName: alias.name });
  }

  private async update(keyId: string, change: (draft: KeyRecord) => void | Promise<void>, retire: boolean,
    alias?: AliasWrite): Promise<KeyRecord> {
    return this.serialized(keyId, async () => {
      let rejudged = false;
      for (let attempt = 0; ; attempt++) {
        const current = await this.get(keyId);
        if (current === undefined) throw new KmsError('NotFoundException', `Key '${this.arnOf(keyId)}' does not exist`);
        const draft = copyKeyRecord(current);
        try {
          await change(draft);
        } catch (error) {
          // Refused on the record as this node cached it: another node may have changed the key since (a deletion
          // scheduled or cancelled there, not heard of here yet). A write is judged on the key as stored, so a
          // refusal is confirmed on the stored record first; one store read, and only for a refused write.
          if (!(error instanceof KmsError) || rejudged) throw error;
          rejudged = true;
          const stored = await this.reread(keyId);
          if (stored !== undefined && stored.version === current.version) throw error;
          continue;
        }
        draft.version = current.version + 1;
        try {
          await this.store.updateKey(draft, current.version, alias);
        } catch (error) {
          if (!(error instanceof StoreConflict) || attempt >= CONFLICT_RETRIES) throw error;
          // Another node changed it: reload and apply again. Writes to one key are serialized within this
          // node only, so several nodes writing the key at once can each lose a few rounds in a row; a short
          // random pause lets the winners' writes land instead of colliding again at once.
          this.keys.delete(keyId);
          await conflictPause(attempt);
          continue;
        }
        this.keys.set(keyId, draft);
        if (retire) this.events.onKeyRetired?.(keyId);
        this.events.onChanged?.({ keyId });
        return draft;
      }
    });
  }

  /**
   * Deletes the key with its aliases, if `stillDue` holds for it as stored once its turn comes: a change queued
   * before (a CancelKeyDeletion in flight when the scheduler read the key) must not be answered and then lost.
   * Whether it deleted the key.
   */
  async deleteKey(keyId: string, stillDue: (stored: KeyRecord) => boolean = () => true): Promise<boolean> {
    return this.serialized(keyId, async () => {
      const stored = await this.reread(keyId);
      if (stored === undefined || !stillDue(stored)) return false;
      const aliases = await this.store.listAliases(keyId);
      await this.store.deleteKey(keyId);
      this.keys.delete(keyId);
      for (const alias of aliases) this.aliases.delete(alias.name);
      this.events.onKeyRetired?.(keyId);
      this.events.onChanged?.({ keyId });
      return true;
    });
  }

  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const cached = this.aliases.get(name);
    if (cached !== undefined) return cached.alias;
    const stored = await this.store.getAlias(name);
    this.aliases.set(name, { alias: stored });
    return stored;
  }

  /**
   * The alias as stored now, cached in place of what this node held: a name cached as missing (or as another
   * key's) may have been created or moved by another node since (a change not heard of here yet).
   */
  async rereadAlias(name: string): Promise<AliasRecord | undefined> {
    this.aliases.delete(name);
    return this.getAlias(name);
  }

  async putAlias(alias: AliasRecord, isNew: boolean): Promise<void> {
    if (isNew) await this.store.insertAlias(alias);
    else await this.store.updateAlias(alias);
    this.aliases.set(alias.name, { alias });
    this.events.onChanged?.({ aliasName: alias.name });
  }

  async deleteAlias(name: string): Promise<boolean> {
    const deleted = await this.store.deleteAlias(name);
    this.aliases.delete(name);
    this.events.onChanged?.({ aliasName: name });
    return deleted;
  }

  /**
   * Reads `keyId` again when the cached record lacks material `materialId`. A ciphertext naming material the cache
   * does not know was made under material another node added (a rotation or import this node has not heard of
   * yet). The record is replaced, not dropped, so a made-up material id costs its caller a store read and takes
   * nothing from other callers of the key. Nothing to wait for (undefined) in the usual case.
   */
  refreshUnlessHolds(keyId: string, materialId: string): Promise<unknown> | undefined {
    const cached = this.keys.peek(keyId);
    return cached === undefined || cached.materials.some((material) => material.materialId === materialId) ? undefined : this.reread(keyId);
  }

  /**
   * The key as stored now, cached in place of what this node held (another node may have changed it); never in
   * place of a newer version this node wrote while the read was on its way.
   */
  async reread(keyId: string): Promise<KeyRecord | undefined> {
    const stored = await this.store.getKey(keyId);
    const cached = this.keys.peek(keyId);
    if (stored === undefined) this.keys.delete(keyId);
    else if (cached === undefined || stored.version >= cached.version) this.keys.set(keyId, stored);
    return stored;
  }

  /** Drops every cached key and alias (a node cut off from the shared store: see src/cluster/change-feed.ts). */
  clear(): void {
    this.keys.clear();
    this.aliases.clear();
  }

  /** Drops cached entries changed elsewhere (another node). */
  invalidate(change: { keyId?: string; aliasName?: string }): void {
    if (change.keyId !== undefined) this.keys.delete(change.keyId);
    if (change.aliasName !== undefined) this.aliases.delete(change.aliasName);
  }

  private async serialized<T>(keyId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(keyId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(keyId, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(keyId) === settled) this.locks.delete(keyId);
    }
  }
}
