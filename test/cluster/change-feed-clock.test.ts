// The change feed's staleness bound (KMS_STALE_CACHE_MS) is a duration, so it is measured on the monotonic clock:
// a node cut off from the shared PostgreSQL while its wall clock is stepped back (an NTP correction, an operator
// setting the time) must still stop trusting its cached keys, aliases and grants once the bound has passed, not
// an hour later. In process, on a real PostgreSQL reached through a proxy the test cuts; the wall clock's step is
// Date.now's.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChangeFeed } from '../../src/cluster/change-feed.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const STALE_AFTER_MS = 1_000;
const HOUR_MS = 3_600_000;

let postgres: TestPostgres;
let proxy: TcpProxy;
let store: PostgresStore;

beforeAll(async () => {
  postgres = await startPostgres();
  proxy = await startTcpProxy(postgres.port);
  store = await PostgresStore.open(postgres.url.replace(`:${postgres.port}/`, `:${proxy.port}/`), { nodeId: 'clock-node' });
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await store?.close();
  await proxy?.close();
  await postgres?.remove();
});

describe('a node cut off from the store while its wall clock steps back an hour', () => {
  it('drops its caches once the bound has passed, and never reports a negative change-log age', async () => {
    const log: string[] = [];
    let markStale!: () => void;
    const staled = new Promise<void>((resolve) => { markStale = resolve; });
    const feed = await ChangeFeed.start({
      url: store.url, nodeId: 'clock-node', pool: store.pool, onChange: () => {}, onGap: () => {},
      staleAfterMs: STALE_AFTER_MS, onStale: () => markStale(), log: (line) => log.push(line),
    });
    let cut = false;
    try {
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() - HOUR_MS);
      expect(feed.ageSeconds).toBeGreaterThanOrEqual(0);
      await proxy.cut();
      cut = true;
      await staled;
      expect(feed.cachesDropped).toBe(true);
      expect(log.some((line) => line.includes(`unreadable for over ${STALE_AFTER_MS} ms`))).toBe(true);
      expect(feed.ageSeconds).toBeGreaterThanOrEqual(0);
    } finally {
      if (cut) await proxy.restore();
      await feed.close();
    }
  }, 30_000);
});
