// Which root key a store's key material is under, from the headers of the wrapped blobs (ring.ts): what a
// command compares with the root key it was given before it writes anything, so a KMS_ROOT_KEY_FILE that points
// at another key (or at a path where one was just created) is refused rather than mixed into the store.
import type { KeyStore } from '../store/types.js';
import { rootKeyIdOfWrapped } from './ring.js';

/** Keys looked at: the first whose material carries a root key id decides. */
const SAMPLE = 100;

/** The root key id the first stored material names; undefined for a store without (headered) material. */
export async function storedRootKeyId(store: KeyStore): Promise<string | undefined> {
  for (const keyId of await store.listKeyIds(undefined, SAMPLE)) {
    const key = await store.getKey(keyId);
    for (const material of key?.materials ?? []) {
      const id = material.wrapped === undefined ? undefined : rootKeyIdOfWrapped(material.wrapped);
      if (id !== undefined) return id;
    }
  }
  return undefined;
}
