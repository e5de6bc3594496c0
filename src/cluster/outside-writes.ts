// A process that is not a server of the embedded store (`kms-engine seed` beside a running server) cannot tell
// the servers' caches what it wrote, as PostgreSQL's change feed does between nodes: a server that had found an
// alias missing kept answering NotFoundException for it, and one that had read a key kept its old tags. So such a
// process counts its writes in the store, and each server reads the count every POLL_MS; when it moved, the
// server drops every cached key, alias and grant list and reads them again. These writes are rare (a fixture
// run), so dropping everything costs nothing that matters, and reading one row four times a second costs less.
import { SqliteStore } from '../store/sqlite.js';
import type { KeyStore } from '../store/types.js';
import { dropEverything, type CachedViews } from './invalidation.js';

const POLL_MS = 250;

/** Called by a process writing the store beside its servers, once its writes are committed. */
export async function noteOutsideWrite(store: KeyStore): Promise<void> {
  if (store instanceof SqliteStore) await store.noteOutsideWrite();
}

/** Watches the count of outside writes; returns the function that stops watching. */
export async function watchOutsideWrites(store: SqliteStore, views: CachedViews): Promise<() => void> {
  let seen = await store.outsideWrites();
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      const count = await store.outsideWrites();
      if (count === seen) return;
      await dropEverything(views);
      seen = count;
    })().catch(() => {
      // The store is closing (shutdown) or busy: the next tick reads the count again.
    }).finally(() => { checking = false; });
  }, POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
