// Seed files (seed-format.md): keys with fixed ids, aliases, tags and, where given, fixed material, for test
// fixtures that hard-code expected MACs, public keys and ciphertexts. Idempotent: a key, alias or tag that
// already exists as the file describes it is left alone. The whole file is validated before anything is written,
// against the store too: a key that exists with another spec, usage or material, an alias that names another key,
// or a store whose material is under another root key is refused, not overwritten, skipped or silently mixed.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.js';
import type { KmsFailure } from '../contract/errors.js';
import { isRegionalKeyId } from '../contract/key-ids.js';
import { KEY_SPECS, isKeySpec, type KeySpec, type KeyUsage } from '../contract/key-specs.js';
import { createKey, derivedMaterialId } from '../keys/factory.js';
import { rootKeyMismatch } from '../root-key/stored.js';
import { mergeTags } from '../keys/tags.js';
import type { Engine } from '../operations/context.js';
import { StoreConflict, type KeyRecord, type Tag } from '../store/types.js';
import { PrimitiveError, validateMaterial } from '../../workers/primitives/index.js';

export class SeedError extends Error {}

export interface SeedKey {
  keyId: string;
  spec: KeySpec;
  usage: KeyUsage;
  material?: Buffer;
  aliases: string[];
  tags: Tag[];
  description: string;
}

const ALIAS = /^alias\/[A-Za-z0-9/_-]+$/;
/**
 * The members seed-format.md defines. Any other is refused, not ignored: a misspelt "keyspec" or a top-level
 * "aliases" would otherwise apply a different key than the file says, with exit 0.
 */
const KEY_FIELDS: ReadonlySet<string> = new Set(['keyId', 'keySpec', 'keyUsage', 'material', 'aliases', 'tags', 'description']);
const FILE_MEMBERS: ReadonlySet<string> = new Set(['keys']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function parseSeedFile(text: string, file: string): SeedKey[] {
  let document: unknown;
  try {
    // A byte order mark (editors on Windows write one) is not part of the document.
    document = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch {
    throw new SeedError(`${file}: not valid JSON`);
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new SeedError(`${file}: "keys" must be an array`);
  const stray = Object.keys(document as object).find((member) => !FILE_MEMBERS.has(member));
  if (stray !== undefined) throw new SeedError(`${file}: ${JSON.stringify(stray)} is not a seed file member (the file holds only "keys")`);
  const parsed = keys.map((entry: unknown, index: number) => parseSeedKey(entry, `${file}: keys[${index}]`));
  // One entry per key and one key per alias: a file that says two things about either cannot be applied.
  const keyIds = new Set<string>();
  const aliasOwners = new Map<string, string>();
  for (const [index, seed] of parsed.entries()) {
    const at = `${file}: keys[${index}] (${seed.keyId})`;
    if (keyIds.has(seed.keyId)) throw new SeedError(`${at}: field keyId appears more than once`);
    keyIds.add(seed.keyId);
    for (const alias of seed.aliases) {
      const owner = aliasOwners.get(alias);
      if (owner !== undefined && owner !== seed.keyId) throw new SeedError(`${at}: field aliases: ${alias} is also given to key ${owner}`);
      aliasOwners.set(alias, seed.keyId);
    }
  }
  return parsed;
}

function parseSeedKey(entry: unknown, where: string): SeedKey {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new SeedError(`${where}: must be an object`);
  const e = entry as Record<string, unknown>;
  if (typeof e.keyId !== 'string' || !isRegionalKeyId(e.keyId)) {
    throw new SeedError(`${where}${typeof e.keyId === 'string' ? ` (${e.keyId})` : ''}: field keyId must be a lowercase UUID`);
  }
  const at = `${where} (${e.keyId})`;
  const unknown = Object.keys(e).find((field) => !KEY_FIELDS.has(field));
  if (unknown !== undefined) throw new SeedError(`${at}: field ${unknown} is not a seed key field (${[...KEY_FIELDS].join(', ')})`);
  const spec = e.keySpec ?? 'SYMMETRIC_DEFAULT';
  if (typeof spec !== 'string' || !isKeySpec(spec)) throw new SeedError(`${at}: field keySpec is not a supported KeySpec`);
  const info = KEY_SPECS[spec];
  const usage = e.keyUsage ?? (spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined);
  if (usage === undefined) throw new SeedError(`${at}: field keyUsage is required for keySpec ${spec}`);
  if (typeof usage !== 'string' || !info.usages.includes(usage as KeyUsage)) {
    throw new SeedError(`${at}: field keyUsage is not valid for keySpec ${spec}`);
  }
  let material: Buffer | undefined;
  if (e.material !== undefined) {
    if (typeof e.material !== 'string' || !BASE64.test(e.material)) throw new SeedError(`${at}: field material must be standard base64`);
    material = Buffer.from(e.material, 'base64');
    if (spec === 'SYMMETRIC_DEFAULT' && material.length !== 32) throw new SeedError(`${at}: field material must be 32 bytes for SYMMETRIC_DEFAULT`);
    // Checked here, as the workers will check it, so that a file the workers would refuse makes no data
    // directory, store or root key (the seed command reads the file before it opens any).
    if (spec !== 'SYMMETRIC_DEFAULT') checkMaterial(spec, material, at);
  }
  const aliases = e.aliases ?? [];
  if (!Array.isArray(aliases) || !aliases.every((a) => typeof a === 'string' && ALIAS.test(a) && !a.startsWith('alias/aws/') && a.length <= 256)) {
    throw new SeedError(`${at}: field aliases must be alias names (alias/...)`);
  }
  const tags = e.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => t !== null && typeof t === 'object'
    && typeof t.TagKey === 'string' && t.TagKey.length >= 1 && t.TagKey.length <= 128 && !t.TagKey.startsWith('aws:')
    && typeof t.TagValue === 'string' && t.TagValue.length <= 256)) {
    throw new SeedError(`${at}: field tags must be [{"TagKey","TagValue"}]`);
  }
  let uniqueTags: Tag[];
  try {
    uniqueTags = mergeTags([], tags as Tag[]); // CreateKey's rules: at most 50, a repeated TagKey keeps the last value
  } catch (error) {
    throw new SeedError(`${at}: field tags: ${error instanceof Error ? error.message : 'invalid'}`);
  }
  const description = e.description ?? '';
  if (typeof description !== 'string' || description.length > 8192) throw new SeedError(`${at}: field description must be a string`);
  return { keyId: e.keyId, spec, usage: usage as KeyUsage, material, aliases: [...new Set(aliases as string[])], tags: uniqueTags, description };
}

/** Reads and validates a seed file without a store: `kms-engine seed` does this before it creates anything. */
export function readSeedFile(file: string): SeedKey[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SeedError(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseSeedFile(text, file);
}

function checkMaterial(spec: KeySpec, material: Buffer, at: string): void {
  try {
    validateMaterial(spec, material);
  } catch (error) {
    if (error instanceof PrimitiveError) throw new SeedError(`${at}: field material: ${error.message}`);
    throw error;
  }
}

/** Applies a seed file (or its keys, read already) to the engine's store; returns how many keys were created. */
export async function applySeedFile(
  engine: Engine, file: string, print: (line: string) => void, keys: readonly SeedKey[] = readSeedFile(file),
): Promise<number> {
  const { keyring, pool, access } = engine;
  await checkRootKey(engine, file);
  await checkAgainstStore(engine, file, keys);
  let created = 0;
  for (const [index, seed] of keys.entries()) {
    let key = await keyring.get(seed.keyId);
    let made = false;
    if (key === undefined) {
      try {
        key = await createKey(keyring, pool, {
          keyId: seed.keyId, spec: seed.spec, usage: seed.usage, origin: 'AWS_KMS', description: seed.description,
          policy: access.defaultKeyPolicy(), tags: seed.tags, material: seed.material,
        });
        made = true;
        created++;
      } catch (error) {
        if (!(error instanceof StoreConflict)) {
          throw new SeedError(`${file}: key ${seed.keyId}: field material: ${error instanceof Error ? error.message : 'invalid'}`);
        }
        // Made meanwhile by another node applying the same file at its start (or a CreateKey of this id): taken
        // as a key that existed, checked as checkAgainstStore checks one.
        key = await keyring.reread(seed.keyId);
        if (key === undefined) throw error;
        checkExisting(key, seed, `${file}: keys[${index}] (${seed.keyId})`);
      }
    }
    if (!made) {
      // An existing key takes the file's tags and description (its spec, usage and material cannot change, and
      // were checked); a file applied again as it was writes nothing.
      const missing = seed.tags.filter((tag) => !key!.tags.some((t) => t.TagKey === tag.TagKey && t.TagValue === tag.TagValue));
      if (missing.length > 0 || key.description !== seed.description) {
        await keyring.mutate(seed.keyId, (draft) => {
          const others = draft.tags.filter((t) => !missing.some((m) => m.TagKey === t.TagKey));
          draft.tags = [...others, ...missing];
          draft.description = seed.description;
        });
      }
    }
    for (const name of seed.aliases) {
      const alias = await keyring.getAlias(name);
      if (alias?.keyId === seed.keyId) continue;
      // Made by someone else since checkAgainstStore looked: refused as there, never moved.
      if (alias !== undefined) throw new SeedError(aliasTaken(file, index, seed.keyId, name, alias.keyId));
      const now = Date.now() / 1000;
      try {
        await keyring.putAlias({ name, keyId: seed.keyId, creationDate: now, lastUpdatedDate: now }, true);
      } catch (error) {
        if (!(error instanceof StoreConflict)) throw error;
        // Made meanwhile (another node applying the same file): fine if it names this key, refused otherwise.
        const owner = (await keyring.rereadAlias(name))?.keyId;
        if (owner !== seed.keyId) throw new SeedError(aliasTaken(file, index, seed.keyId, name, owner ?? '(deleted meanwhile)'));
      }
    }
  }
  print(`kms-engine: seed ${file}: ${keys.length} keys, ${created} created`);
  return created;
}

/**
 * What the file says against what the store holds, before anything is written, so a file that cannot be applied
 * as written applies nothing: fixed material the worker would refuse (wrong size, wrong key type or curve); a key
 * that exists with another keySpec, keyUsage or material (the file's MACs and ciphertexts would not hold, and a
 * key's spec and material cannot change); an alias that already names another key (CreateAlias's
 * AlreadyExistsException: moving it would send that key's callers to the seeded one).
 */
async function checkAgainstStore(engine: Engine, file: string, keys: readonly SeedKey[]): Promise<void> {
  for (const [index, seed] of keys.entries()) {
    const at = `${file}: keys[${index}] (${seed.keyId})`;
    const existing = await engine.keyring.get(seed.keyId);
    if (existing !== undefined) {
      checkExisting(existing, seed, at);
    } else if (seed.material !== undefined) {
      const materialId = derivedMaterialId(seed.keyId, seed.material);
      const result = await engine.pool.run({ op: 'wrapMaterial', keyId: seed.keyId, materialId, spec: seed.spec, material: seed.material });
      if (!result.ok) throw new SeedError(`${at}: field material: ${(result as KmsFailure).message}`);
    }
    for (const name of seed.aliases) {
      const alias = await engine.keyring.getAlias(name);
      if (alias !== undefined && alias.keyId !== seed.keyId) throw new SeedError(aliasTaken(file, index, seed.keyId, name, alias.keyId));
    }
  }
}

/** A key that exists must be what the file says: its spec, usage and material cannot change. */
function checkExisting(existing: KeyRecord, seed: SeedKey, at: string): void {
  if (existing.spec !== seed.spec) throw new SeedError(`${at}: field keySpec: the key exists with keySpec ${existing.spec}`);
  if (existing.usage !== seed.usage) throw new SeedError(`${at}: field keyUsage: the key exists with keyUsage ${existing.usage}`);
  if (seed.material !== undefined) {
    const materialId = derivedMaterialId(seed.keyId, seed.material);
    if (!existing.materials.some((material) => material.materialId === materialId)) {
      throw new SeedError(`${at}: field material: the key exists with other key material`);
    }
  }
}

const aliasTaken = (file: string, index: number, keyId: string, alias: string, owner: string): string =>
  `${file}: keys[${index}] (${keyId}): field aliases: ${alias} already exists and names key ${owner}`;

/**
 * A seed run with another root key than the store's (a KMS_ROOT_KEY_FILE that points elsewhere) would add keys no
 * server of this store can open (src/root-key/stored.ts compares them).
 */
async function checkRootKey(engine: Engine, file: string): Promise<void> {
  const { config, keyring, pool } = engine;
  const mismatch = await rootKeyMismatch(config, keyring.store, pool);
  if (mismatch === undefined) return;
  const variable = config.rootKeyUri !== undefined ? 'KMS_ROOT_KEY' : 'KMS_ROOT_KEY_FILE';
  throw new SeedError(`${file}: not applied: the store's key material is wrapped under root key ${mismatch.stored}, but ${variable} holds root key ${mismatch.held ?? '(unknown)'}; run seed with the server's root key`);
}

/**
 * KMS_SEED_FILE at start: a file that cannot be read, does not parse or holds material the workers refuse stops
 * the server with one line naming the variable (ConfigError), not only the file.
 */
export async function applyStartupSeedFile(engine: Engine, file: string, print: (line: string) => void): Promise<number> {
  return namingTheVariable(() => applySeedFile(engine, file, print));
}

/** Reads and validates KMS_SEED_FILE without a store, before start-up creates anything (src/startup-checks.ts). */
export async function checkStartupSeedFile(file: string): Promise<void> {
  await namingTheVariable(async () => readSeedFile(file));
}

async function namingTheVariable<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SeedError) throw new ConfigError(`KMS_SEED_FILE: ${error.message}`);
    throw error;
  }
}
