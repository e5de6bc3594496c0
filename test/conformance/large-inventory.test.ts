// Listings of a large inventory: 10,000 keys seeded with `kms-engine seed` (README, "Seeding test fixtures"), served
// by two front ends (KMS_FRONTENDS=2, so consecutive pages may come from different processes), enumerated with the
// JS SDK's paginators and the AWS CLI's own paging as an admin of such an account does. Correctness only: the
// time a full enumeration takes is printed for whoever reads the run, never asserted.
import {
  paginateListAliases, paginateListKeys, ListAliasesCommand, ScheduleKeyDeletionCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsKms } from '../support/aws-cli.js';
import { runCli } from '../support/cli.js';
import { startServer, type TestServer } from '../support/server.js';

const KEYS = 10_000;
/** Every 1000th key has these aliases besides its own: a key with several, for the KeyId filter. */
const EXTRA_ALIASES = ['extra-a', 'extra-b', 'extra-c'];
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const keyIds = Array.from({ length: KEYS }, () => randomUUID()).sort(byteOrder);
const aliasesOf = (index: number): string[] => [`alias/fleet/${String(index).padStart(5, '0')}`,
  ...(index % 1000 === 0 ? EXTRA_ALIASES.map((extra) => `alias/fleet/${String(index).padStart(5, '0')}-${extra}`) : [])];
const allAliases = keyIds.flatMap((_, index) => aliasesOf(index)).sort(byteOrder);

let server: TestServer;
let kms: KMSClient;
let seedDir: string;

beforeAll(async () => {
  seedDir = mkdtempSync(join(tmpdir(), 'kms-large-inventory-'));
  const file = join(seedDir, 'seed.json');
  writeFileSync(file, JSON.stringify({
    keys: keyIds.map((keyId, index) => ({ keyId, aliases: aliasesOf(index), tags: [{ TagKey: 'index', TagValue: String(index) }] })),
  }));
  const dataDir = join(seedDir, 'data');
  const seeded = runCli(['seed', file], { KMS_DATA_DIR: dataDir, KMS_WORKERS: '2' }, { timeoutMs: 240_000 });
  expect(seeded.status, seeded.output).toBe(0);
  server = await startServer({ dataDir, env: { KMS_FRONTENDS: '2' } });
  kms = server.client();
}, 300_000);

afterAll(async () => {
  kms?.destroy();
  await server?.remove();
  if (seedDir !== undefined) rmSync(seedDir, { recursive: true, force: true });
});

interface Page { Truncated?: boolean; NextMarker?: string }

/** Every page of a paginator, each checked: Truncated and NextMarker exactly when more follow, never an empty page. */
async function enumerate<P extends Page, T>(pages: AsyncIterable<P>, itemsOf: (page: P) => T[] | undefined, label: string):
  Promise<{ items: T[]; pages: number }> {
  const started = Date.now();
  const items: T[] = [];
  const seen: P[] = [];
  for await (const page of pages) {
    seen.push(page);
    items.push(...(itemsOf(page) ?? []));
  }
  seen.forEach((page, index) => {
    const last = index === seen.length - 1;
    expect({ truncated: page.Truncated, marker: page.NextMarker !== undefined, empty: (itemsOf(page) ?? []).length === 0 },
      `${label}, page ${index + 1} of ${seen.length}`).toEqual({ truncated: !last, marker: !last, empty: false });
  });
  console.log(`${label}: ${items.length} items in ${seen.length} pages, ${Date.now() - started} ms`);
  return { items, pages: seen.length };
}

describe(`listings of ${KEYS} seeded keys over two front ends`, () => {
  it('ListKeys lists every key once, in order, at the default page size and at 1000, a key pending deletion too', async () => {
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyIds[1234]!, PendingWindowInDays: 7 }));
    const byDefault = await enumerate(paginateListKeys({ client: kms }, {}), (page) => page.Keys, 'ListKeys, default Limit (100)');
    expect(byDefault.pages).toBe(KEYS / 100);
    expect(byDefault.items.map((key) => key.KeyId)).toEqual(keyIds);
    expect(byDefault.items.every((key) => key.KeyArn === `arn:aws:kms:us-east-1:111122223333:key/${key.KeyId}`)).toBe(true);
    const byThousand = await enumerate(paginateListKeys({ client: kms, pageSize: 1000 }, {}), (page) => page.Keys, 'ListKeys, Limit 1000');
    expect(byThousand.pages).toBe(KEYS / 1000);
    expect(byThousand.items.map((key) => key.KeyId)).toEqual(keyIds);
  }, 120_000);

  it('ListAliases lists every alias once, in name order, at the default page size (50) and at 100', async () => {
    const byDefault = await enumerate(paginateListAliases({ client: kms }, {}), (page) => page.Aliases, 'ListAliases, default Limit (50)');
    expect(byDefault.pages).toBe(Math.ceil(allAliases.length / 50));
    expect(byDefault.items.map((alias) => alias.AliasName)).toEqual(allAliases);
    const byHundred = await enumerate(paginateListAliases({ client: kms, pageSize: 100 }, {}), (page) => page.Aliases, 'ListAliases, Limit 100');
    expect(byHundred.items.map((alias) => [alias.AliasName, alias.TargetKeyId]))
      .toEqual(keyIds.flatMap((keyId, index) => aliasesOf(index).map((name) => [name, keyId])).sort(([a], [b]) => byteOrder(a!, b!)));
  }, 120_000);

  it('ListAliases by KeyId (key id or key ARN) lists that key\'s aliases only, in name order, page by page', async () => {
    const keyId = keyIds[3000]!;
    const expected = aliasesOf(3000).sort(byteOrder);
    for (const id of [keyId, `arn:aws:kms:us-east-1:111122223333:key/${keyId}`]) {
      const all = await kms.send(new ListAliasesCommand({ KeyId: id }));
      expect(all.Aliases!.map((alias) => alias.AliasName)).toEqual(expected);
      expect(all.Truncated).toBe(false);
      const paged = await enumerate(paginateListAliases({ client: kms, pageSize: 1 }, { KeyId: id }), (page) => page.Aliases, `ListAliases, KeyId ${id}, Limit 1`);
      expect(paged.items.map((alias) => alias.AliasName)).toEqual(expected);
    }
  }, 60_000);

  it('the AWS CLI counts every key and alias, and --max-items/--page-size hand over with --starting-token', async () => {
    expect(await awsKms(server, 'list-keys', '--query', '{count: length(Keys)}')).toEqual({ count: KEYS });
    expect(await awsKms(server, 'list-aliases', '--query', '{count: length(Aliases)}')).toEqual({ count: allAliases.length });
    const first = await awsKms(server, 'list-keys', '--max-items', '250', '--page-size', '100');
    expect(first.Keys.map((key: { KeyId: string }) => key.KeyId)).toEqual(keyIds.slice(0, 250));
    expect(typeof first.NextToken).toBe('string');
    const second = await awsKms(server, 'list-keys', '--max-items', '250', '--page-size', '100', '--starting-token', first.NextToken);
    expect(second.Keys.map((key: { KeyId: string }) => key.KeyId)).toEqual(keyIds.slice(250, 500));
    const last = await awsKms(server, 'list-keys', '--page-size', '1000', '--starting-token', second.NextToken, '--query', 'Keys[-1].KeyId');
    expect(last).toBe(keyIds.at(-1));
  }, 120_000);
});
