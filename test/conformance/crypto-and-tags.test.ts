// Symmetric cryptography and tags on the wire, from an audit against kms-api.md (sections 1.3, 5.1-5.3, 6, 7):
// the real server on loopback, the real AWS SDK for JavaScript v3.
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, ListResourceTagsCommand,
  ReEncryptCommand, TagResourceCommand, type Tag,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';

const shared = serverForFile();

describe('an alias named by the ARN of another region or account', () => {
  it("is missing as an alias never made is: NotFoundException \"Alias '<alias ARN>' is not found.\"", async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({}));
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/elsewhere', TargetKeyId: KeyMetadata!.KeyId }));
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: 'alias/elsewhere', Plaintext: Buffer.from('x') }));
    const notFound = (aliasArn: string) => ({ name: 'NotFoundException', status: 404, message: `Alias '${aliasArn}' is not found.` });
    for (const aliasArn of [
      'arn:aws:kms:eu-west-1:111122223333:alias/elsewhere',
      'arn:aws:kms:us-east-1:444455556666:alias/elsewhere',
      'arn:aws:kms:us-east-1:111122223333:alias/never-made',
    ]) {
      expect(await failure(shared.kms.send(new EncryptCommand({ KeyId: aliasArn, Plaintext: Buffer.from('x') }))), aliasArn)
        .toEqual(notFound(aliasArn));
      expect(await failure(shared.kms.send(new DecryptCommand({ KeyId: aliasArn, CiphertextBlob }))), aliasArn).toEqual(notFound(aliasArn));
      expect(await failure(shared.kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: aliasArn }))), aliasArn)
        .toEqual(notFound(aliasArn));
      expect(await failure(shared.kms.send(new GenerateDataKeyCommand({ KeyId: aliasArn, KeySpec: 'AES_256' }))), aliasArn)
        .toEqual(notFound(aliasArn));
    }
  });
});

describe('tags per key (kms-api.md section 5.1: at most 50)', () => {
  const tags = (prefix: string, count: number): Tag[] => Array.from({ length: count }, (_, i) => ({ TagKey: `${prefix}${i}`, TagValue: `${i}` }));
  const tagCount = async (keyId: string) => (await shared.kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags!.length;

  it('a 51st is TagException; giving one of the 50 a new value is not; concurrent requests cannot pass 50 together', async () => {
    const keyId = (await shared.kms.send(new CreateKeyCommand({ Tags: tags('t', 50) }))).KeyMetadata!.KeyId!;
    expect(await failure(shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'one-more', TagValue: '' }] }))))
      .toMatchObject({ name: 'TagException', status: 400 });
    await shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 't0', TagValue: 'new value' }] }));
    expect(await tagCount(keyId)).toBe(50);

    const fresh = (await shared.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((prefix) => shared.kms.send(new TagResourceCommand({ KeyId: fresh, Tags: tags(prefix, 30) }))));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(await tagCount(fresh)).toBe(30);
  });

  it('ListResourceTags pages at most 50 whatever Limit (1..1000) asks for, and the pages hold every tag once', async () => {
    const keyId = (await shared.kms.send(new CreateKeyCommand({ Tags: tags('t', 50) }))).KeyMetadata!.KeyId!;
    const all = await shared.kms.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 1000 }));
    expect({ count: all.Tags!.length, truncated: all.Truncated, marker: all.NextMarker }).toEqual({ count: 50, truncated: false, marker: undefined });
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await shared.kms.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 20, Marker: marker }));
      expect(page.Tags!.length).toBeLessThanOrEqual(20);
      seen.push(...page.Tags!.map((tag) => tag.TagKey!));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker !== undefined);
    expect(seen.sort()).toEqual(tags('t', 50).map((tag) => tag.TagKey).sort());
  });
});
