// Pagination markers of the List* operations: a NextMarker is only good for the list it came from
// (kms-api.md Appendix A: InvalidMarkerException for a bad marker; the model: "Set it to the value of
// NextMarker from the truncated response you just received"). The real server, driven by the real AWS SDK.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, ListAliasesCommand, ListGrantsCommand,
  ListKeyRotationsCommand, ListKeysCommand, ListResourceTagsCommand, ListRetirableGrantsCommand,
  RotateKeyOnDemandCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile();
const RETIRING = 'arn:aws:iam::111122223333:role/list-markers-retiring';

/** A symmetric key with two aliases, two tags, two grants and two on-demand rotations: every list has two pages at Limit 1. */
async function keyWithTwoOfEverything(kms: KMSClient, name: string): Promise<string> {
  const keyId = (await kms.send(new CreateKeyCommand({
    Tags: [{ TagKey: 'one', TagValue: '1' }, { TagKey: 'two', TagValue: '2' }],
  }))).KeyMetadata!.KeyId!;
  for (const suffix of ['a', 'b']) await kms.send(new CreateAliasCommand({ AliasName: `alias/${name}-${suffix}`, TargetKeyId: keyId }));
  for (let i = 0; i < 2; i++) {
    await kms.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: 'arn:aws:iam::111122223333:role/list-markers-grantee', RetiringPrincipal: RETIRING, Operations: ['Decrypt'],
    }));
  }
  for (let i = 0; i < 2; i++) {
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    await expect.poll(async () => (await kms.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations!.length).toBe(i + 1);
  }
  return keyId;
}

type Lister = (marker?: string) => Promise<{ Truncated?: boolean; NextMarker?: string }>;

describe('List* markers', () => {
  it('refuse a marker minted by another list operation, or by the same operation for another key', async () => {
    const { kms } = shared;
    const first = await keyWithTwoOfEverything(kms, 'markers-first');
    const second = await keyWithTwoOfEverything(kms, 'markers-second');
    const lists = (keyId: string): Record<string, Lister> => ({
      ListKeys: (Marker) => kms.send(new ListKeysCommand({ Limit: 1, Marker })),
      ListAliases: (Marker) => kms.send(new ListAliasesCommand({ Limit: 1, Marker })),
      ListAliasesOfKey: (Marker) => kms.send(new ListAliasesCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListResourceTags: (Marker) => kms.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListGrants: (Marker) => kms.send(new ListGrantsCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListKeyRotations: (Marker) => kms.send(new ListKeyRotationsCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListRetirableGrants: (Marker) => kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: RETIRING, Limit: 1, Marker })),
    });
    const firstLists = lists(first);
    const markers: Record<string, string> = {};
    for (const [name, list] of Object.entries(firstLists)) {
      const page = await list();
      expect(page.Truncated, name).toBe(true);
      markers[name] = page.NextMarker!;
      // Its own marker still works.
      await list(markers[name]);
    }
    for (const [name, list] of Object.entries(firstLists)) {
      for (const [source, marker] of Object.entries(markers)) {
        if (source === name) continue;
        expect(await failure(list(marker)), `${source} marker given to ${name}`).toMatchObject({ name: 'InvalidMarkerException' });
      }
    }
    // The same operation on another key: a different list.
    const secondLists = lists(second);
    for (const name of ['ListAliasesOfKey', 'ListResourceTags', 'ListGrants', 'ListKeyRotations']) {
      expect(await failure(secondLists[name]!(markers[name])), `${name} marker of another key`).toMatchObject({ name: 'InvalidMarkerException' });
    }
  });

  it('refuse a marker cut short, lengthened or edited, and still take the one handed out', async () => {
    const { kms } = shared;
    const keyId = await keyWithTwoOfEverything(kms, 'markers-edited');
    const lists: Record<string, Lister> = {
      ListKeys: (Marker) => kms.send(new ListKeysCommand({ Limit: 1, Marker })),
      ListAliases: (Marker) => kms.send(new ListAliasesCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListResourceTags: (Marker) => kms.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListGrants: (Marker) => kms.send(new ListGrantsCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListKeyRotations: (Marker) => kms.send(new ListKeyRotationsCommand({ KeyId: keyId, Limit: 1, Marker })),
      ListRetirableGrants: (Marker) => kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: RETIRING, Limit: 1, Marker })),
    };
    const lastCharacter = (marker: string): string => marker.slice(0, -1) + (marker.endsWith('A') ? 'B' : 'A');
    // The position a marker names, a character shorter, re-encoded around the rest of the marker's text: a
    // truncated position would list the page's last item again.
    const shorterPosition = (marker: string): string =>
      Buffer.from(Buffer.from(marker, 'base64url').toString('utf8').slice(0, -1), 'utf8').toString('base64url');
    for (const [name, list] of Object.entries(lists)) {
      const first = await list();
      expect(first.Truncated, name).toBe(true);
      const marker = first.NextMarker!;
      const edits = {
        'cut short': marker.slice(0, -2), lengthened: `${marker}AB`, 'with a stray character': `${marker}!`,
        'last character changed': lastCharacter(marker), 'position shortened': shorterPosition(marker),
      };
      for (const [edit, edited] of Object.entries(edits)) {
        expect(await failure(list(edited)), `${name} marker ${edit}`).toMatchObject({ name: 'InvalidMarkerException', status: 400 });
      }
      const items = (page: object): string => JSON.stringify(Object.entries(page).filter(([field]) => !['$metadata', 'NextMarker', 'Truncated'].includes(field)));
      const second = await list(marker);
      expect(items(second), `${name}: the second page`).not.toBe(items(first));
    }
  });
});
