// `kms-engine rotate-root-key`: re-wraps every stored key material under the new root key (KMS_NEW_ROOT_KEY_FILE
// or KMS_NEW_ROOT_KEY), key by key, while servers keep serving. Each material's header names the root key that
// wrapped it (src/root-key/ring.ts), so the command skips what is already done (it can be stopped and run
// again) and a server that holds both keys unwraps either. A key is rewritten with the store's conditional
// update; if a server changed it meanwhile (a rotation of its own material, a tag), the command reads it again.
//
// The command runs in its own process and holds both root keys (file bytes in memory, or sessions on the
// tokens) only while it runs. Procedure: README, "Root key rotation".
import { existsSync, rmSync } from 'node:fs';
import { usage } from '../cli-usage.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { openStore } from '../store/open.js';
import { StoreConflict, copyKeyRecord, type KeyStore } from '../store/types.js';
import { openRootKeyRing, prepareRootKeys, rootKeyPlan, describeRootKeySource } from './open.js';
import { rootKeyIdOfWrapped, type RootKeyRing } from './ring.js';
import { storedRootKeyId } from './stored.js';

export interface RotationReport {
  newRootKeyId: string;
  /** False when servers kept writing materials under another root key through every pass (one lacks the new key). */
  settled: boolean;
  keysVisited: number;
  keysRewritten: number;
  materialsRewrapped: number;
}

const PAGE = 100;
const CONFLICT_RETRIES = 5;
/** Passes over the store: a later pass catches keys a server rewrote (from a stale cache) during an earlier one. */
const MAX_PASSES = 3;

export async function rotateRootKey(
  config: Config, openStore: () => Promise<KeyStore>, print: (line: string) => void,
): Promise<RotationReport> {
  const plan = rootKeyPlan(config);
  if (plan.next === undefined) {
    throw new ConfigError('rotate-root-key needs the new root key: set KMS_NEW_ROOT_KEY_FILE or KMS_NEW_ROOT_KEY');
  }
  // Only the new key may be created here (step 1 of the procedure usually did): a missing current root key file is
  // a wrong path, not a key to make, and the ring below refuses it. A new key file or token key made by a run that
  // is then refused is removed again, so a refusal changes nothing.
  const newKeyFile = plan.next.kind === 'file' && !existsSync(plan.next.path) ? plan.next.path : undefined;
  const prepared = prepareRootKeys({ current: plan.next });
  const refuse = (error: unknown): never => {
    prepared.destroyCreatedTokenKeys();
    if (newKeyFile !== undefined) rmSync(newKeyFile, { force: true });
    throw error;
  };
  let ring: RootKeyRing;
  try {
    ring = openRootKeyRing(plan);
  } catch (error) {
    return refuse(error);
  }
  // The ring keeps one entry per key id: one entry means the "new" key is the current one (the same file, a copy,
  // or the same token key). Re-wrapping would do nothing, and the closing advice to destroy the old root key
  // would destroy the only one.
  if (ring.ids.length === 1) {
    ring.close();
    return refuse(new ConfigError(`${plan.next.variable}: ${describeRootKeySource(plan.next)} holds the current root key (id ${ring.wrapWith.id}); a rotation needs a new key`));
  }
  let store: KeyStore;
  try {
    store = await openStore();
  } catch (error) {
    ring.close();
    return refuse(error);
  }
  try {
    // Material under neither key means the current root key is not this store's: refused before anything changes.
    const stored = await storedRootKeyId(store);
    if (stored !== undefined && !ring.ids.includes(stored)) {
      throw new ConfigError(`${plan.current.variable}: ${describeRootKeySource(plan.current)} is not the root key this store's material is under (root key ${stored}; given: ${ring.ids.join(', ')})`);
    }
  } catch (error) {
    await store.close();
    ring.close();
    return refuse(error);
  }
  try {
    const newRootKeyId = ring.wrapWith.id;
    print(`kms-engine: re-wrapping key material under root key ${newRootKeyId} (${describeRootKeySource(plan.next)})`);
    const report: RotationReport = { newRootKeyId, settled: false, keysVisited: 0, keysRewritten: 0, materialsRewrapped: 0 };
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const before = report.materialsRewrapped;
      for await (const keyId of allKeyIds(store)) {
        if (pass === 0) report.keysVisited++;
        const rewrapped = await rewrapKey(store, ring, keyId);
        if (rewrapped > 0) report.keysRewritten++;
        report.materialsRewrapped += rewrapped;
      }
      if (report.materialsRewrapped === before) {
        report.settled = true;
        break;
      }
    }
    print(`kms-engine: ${report.materialsRewrapped} key material(s) in ${report.keysRewritten} of ${report.keysVisited} key(s) re-wrapped`);
    if (!report.settled) {
      print(`kms-engine: materials under the old root key keep appearing: a server is running without ${plan.next.variable}; set it on every server and run rotate-root-key again`);
      return report;
    }
    print(`kms-engine: every stored key material is now under root key ${newRootKeyId}`);
    print(`kms-engine: next, restart with ${plan.next.variable === 'KMS_NEW_ROOT_KEY' ? 'KMS_ROOT_KEY' : 'KMS_ROOT_KEY_FILE'} naming the new root key and without ${plan.next.variable}; then the old root key can be destroyed`);
    return report;
  } finally {
    await store.close();
    ring.close();
    prepared.close();
  }
}

async function* allKeyIds(store: KeyStore): AsyncGenerator<string> {
  let after: string | undefined;
  for (;;) {
    const page = await store.listKeyIds(after, PAGE);
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1];
  }
}

/** Re-wraps one key's materials that are not yet under the ring's wrapping key; returns how many. */
async function rewrapKey(store: KeyStore, ring: RootKeyRing, keyId: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const record = await store.getKey(keyId);
    if (record === undefined) return 0; // deleted meanwhile
    const isStale = (wrapped: Buffer | undefined): wrapped is Buffer => wrapped !== undefined && rootKeyIdOfWrapped(wrapped) !== ring.wrapWith.id;
    const stale = record.materials.filter((material) => isStale(material.wrapped));
    if (stale.length === 0) return 0;
    const draft = copyKeyRecord(record);
    for (const material of draft.materials) {
      if (!isStale(material.wrapped)) continue;
      let plaintext: Buffer;
      try {
        plaintext = ring.unwrap(keyId, material.materialId, material.wrapped);
      } catch (error) {
        // Which key: the others may be fine (a store that mixes root keys), and this one is what to look into.
        throw new Error(`key ${keyId}: ${(error as Error).message}`);
      }
      try {
        material.wrapped = ring.wrap(keyId, material.materialId, plaintext);
      } finally {
        plaintext.fill(0);
      }
    }
    draft.version = record.version + 1;
    try {
      await store.updateKey(draft, record.version);
      return stale.length;
    } catch (error) {
      if (!(error instanceof StoreConflict) || attempt >= CONFLICT_RETRIES) throw error;
    }
  }
}

/** `kms-engine rotate-root-key`: exit 0 once every material is under the new root key, 1 if servers kept adding old ones. */
export async function runRotateRootKeyCommand(args: string[]): Promise<number> {
  if (args.length > 0) return usage('usage: kms-engine rotate-root-key   (environment: the current root key, and KMS_NEW_ROOT_KEY_FILE or KMS_NEW_ROOT_KEY)', args);
  const config = loadConfig();
  const report = await rotateRootKey(config, () => openStore(config, `rotate-root-key-${process.pid}`), console.log);
  return report.settled ? 0 : 1;
}
