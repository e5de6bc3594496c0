// Enumerating while the inventory changes: the JS SDK's paginators walk keys, aliases, tags and grants a few items
// a page while another client creates and deletes items of the same list, through two front ends
// (KMS_FRONTENDS=2). Every enumeration must list no item twice and miss none that existed throughout; items
// made or removed meanwhile may or may not appear, as with AWS KMS.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DeleteAliasCommand, paginateListAliases,
  paginateListGrants, paginateListKeys, paginateListResourceTags, paginateListRetirableGrants, RevokeGrantCommand,
  ScheduleKeyDeletionCommand, TagResourceCommand, UntagResourceCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile({ env: { KMS_FRONTENDS: '2' } });
const RETIRING = 'arn:aws:iam::111122223333:role/list-consistency-retiring';
const ROUNDS = 3;

/** Runs `change` over and over (n = 0, 1, 2, ...) until `enumerate` has finished ROUNDS times; their results. */
async function whileChanging<T>(change: (n: number) => Promise<void>, enumerate: () => Promise<T>): Promise<T[]> {
  let stop = false;
  let changes = 0;
  const changing = (async () => { while (!stop) await change(changes++); })();
  const results: T[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) results.push(await enumerate());
  } finally {
    stop = true;
    await changing;
  }
  expect(changes, 'changes made while enumerating').toBeGreaterThan(0);
  return results;
}

async function collect<P>(pages: AsyncIterable<P>, itemsOf: (page: P) => string[]): Promise<string[]> {
  const items: string[] = [];
  for await (const page of pages) items.push(...itemsOf(page));
  return items;
}

function expectCompleteOnce(listed: string[], throughout: readonly string[], label: string): void {
  expect(listed.length - new Set(listed).size, `${label}: items listed twice`).toBe(0);
  expect(throughout.filter((item) => !listed.includes(item)), `${label}: items that existed throughout, missed`).toEqual([]);
}

const newKey = async (kms: KMSClient): Promise<string> => (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;

describe('enumerations while the inventory changes', () => {
  it('ListKeys: keys created and scheduled for deletion meanwhile', async () => {
    const { kms } = shared;
    const stable = await Promise.all(Array.from({ length: 60 }, () => newKey(kms)));
    const results = await whileChanging(async () => {
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: await newKey(kms), PendingWindowInDays: 7 }));
    }, () => collect(paginateListKeys({ client: kms, pageSize: 4 }, {}), (page) => page.Keys!.map((key) => key.KeyId!)));
    for (const listed of results) expectCompleteOnce(listed, stable, 'ListKeys');
  }, 120_000);

  it('ListAliases (all, and of one key): aliases created and deleted before and after the stable ones', async () => {
    const { kms } = shared;
    const keyId = await newKey(kms);
    const stable = Array.from({ length: 40 }, (_, i) => `alias/consistency/m-${String(i).padStart(2, '0')}`);
    for (const name of stable) await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }));
    // Names sorting before, among and after the stable ones, each deleted three changes later.
    const churn = (run: string) => async (n: number): Promise<void> => {
      const churned = (i: number): string => `alias/consistency/${['a', 'm-1', 'z'][i % 3]}-${run}-${i}`;
      await kms.send(new CreateAliasCommand({ AliasName: churned(n), TargetKeyId: keyId }));
      if (n >= 3) await kms.send(new DeleteAliasCommand({ AliasName: churned(n - 3) }));
    };
    const names = (page: { Aliases?: Array<{ AliasName?: string }> }): string[] => page.Aliases!.map((alias) => alias.AliasName!);
    for (const listed of await whileChanging(churn('all'), () => collect(paginateListAliases({ client: kms, pageSize: 3 }, {}), names))) {
      expectCompleteOnce(listed, stable, 'ListAliases');
    }
    const ofKey = await whileChanging(churn('of-key'),
      () => collect(paginateListAliases({ client: kms, pageSize: 3 }, { KeyId: keyId }), names));
    for (const listed of ofKey) expectCompleteOnce(listed, stable, 'ListAliases by KeyId');
  }, 120_000);

  it('ListResourceTags: tags added and removed on either side of the stable ones', async () => {
    const { kms } = shared;
    const keyId = await newKey(kms);
    const stable = Array.from({ length: 30 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: stable.map((TagKey) => ({ TagKey, TagValue: 'stable' })) }));
    const churned = (n: number): string => `${['a', 'm1', 'z'][n % 3]}-churn-${n}`;
    const results = await whileChanging(async (n) => {
      await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: churned(n), TagValue: 'churn' }] }));
      if (n >= 2) await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: [churned(n - 2)] }));
    }, () => collect(paginateListResourceTags({ client: kms, pageSize: 2 }, { KeyId: keyId }), (page) => page.Tags!.map((tag) => tag.TagKey!)));
    for (const listed of results) expectCompleteOnce(listed, stable, 'ListResourceTags');
  }, 120_000);

  it('ListGrants and ListRetirableGrants: grants created and revoked meanwhile', async () => {
    const { kms } = shared;
    const keyId = await newKey(kms);
    const grant = async (grantee: string): Promise<string> => (await kms.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: `arn:aws:iam::111122223333:role/${grantee}`, RetiringPrincipal: RETIRING, Operations: ['Decrypt'],
    }))).GrantId!;
    const stable: string[] = [];
    for (let i = 0; i < 30; i++) stable.push(await grant(`stable-${i}`));
    const churned: string[] = [];
    // Each change adds a grant and revokes the one added two changes before: grants come and go after the stable ones.
    const change = async (): Promise<void> => {
      churned.push(await grant(`churn-${churned.length}`));
      if (churned.length >= 3) await kms.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: churned[churned.length - 3]! }));
    };
    const grantIds = (page: { Grants?: Array<{ GrantId?: string }> }): string[] => page.Grants!.map((each) => each.GrantId!);
    for (const listed of await whileChanging(change, () => collect(paginateListGrants({ client: kms, pageSize: 4 }, { KeyId: keyId }), grantIds))) {
      expectCompleteOnce(listed, stable, 'ListGrants');
    }
    const retirable = await whileChanging(change,
      () => collect(paginateListRetirableGrants({ client: kms, pageSize: 4 }, { RetiringPrincipal: RETIRING }), grantIds));
    for (const listed of retirable) expectCompleteOnce(listed, stable, 'ListRetirableGrants');
  }, 120_000);
});
