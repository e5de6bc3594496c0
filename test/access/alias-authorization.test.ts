// Aliases are authorized on both sides (kms-api.md section 8; AWS's "Controlling access to aliases"):
// CreateAlias and DeleteAlias need the action on the key and on the alias ARN, which has no resource policy so
// only IAM can allow it; UpdateAlias needs it on the key the alias leaves, the key it moves to, and the alias;
// ListAliases is an IAM permission on '*' whether or not it names a key.
// Through the real AWS SDK against one real server with the identities in support.ts.
import { CreateAliasCommand, DeleteAliasCommand, ListAliasesCommand, UpdateAliasCommand, type KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT, REGION, accessDenied, accountAdmin, allow, arnOf, createKeyAs, deny, failure, keyPolicy, withAccessServer,
  type AccessServer,
} from './support.js';

let access: AccessServer;
let root: KMSClient;

withAccessServer((server) => { access = server; root = server.as('root'); });

const aliasArn = (name: string): string => `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`;
const aliasesOf = async (KeyId: string): Promise<string[]> =>
  ((await root.send(new ListAliasesCommand({ KeyId }))).Aliases ?? []).map((alias) => alias.AliasName!);

describe('the alias side: IAM policies only', () => {
  it('a key policy naming a principal does not let it create, move or delete aliases without IAM rights on the alias', async () => {
    const aliasActions = ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias'];
    const policy = keyPolicy(accountAdmin, allow(arnOf('bob'), aliasActions));
    const first = await createKeyAs(root, { Policy: policy });
    const second = await createKeyAs(root, { Policy: policy });
    const bob = access.as('bob');
    const name = `alias/bob-${first.keyId}`;
    expect(await failure(bob.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: first.keyId }))))
      .toEqual(accessDenied('bob', 'kms:CreateAlias', aliasArn(name), 'no-identity'));
    expect(await aliasesOf(first.keyId)).toEqual([]);

    await root.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: first.keyId }));
    expect(await failure(bob.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: second.keyId }))))
      .toEqual(accessDenied('bob', 'kms:UpdateAlias', aliasArn(name), 'no-identity'));
    expect(await failure(bob.send(new DeleteAliasCommand({ AliasName: name }))))
      .toEqual(accessDenied('bob', 'kms:DeleteAlias', aliasArn(name), 'no-identity'));
    expect(await aliasesOf(first.keyId)).toEqual([name]);
  });

  it('an IAM policy whose Resource names keys only does not reach aliases; one on "*" does', async () => {
    // creator's IAM allows (nearly) every action on this account's key/* ARNs, and the default key policy trusts IAM.
    const { keyId } = await createKeyAs(root);
    const name = `alias/creator-${keyId}`;
    expect(await failure(access.as('creator').send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }))))
      .toEqual(accessDenied('creator', 'kms:CreateAlias', aliasArn(name), 'no-identity'));
    await access.as('admin').send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }));
    expect(await failure(access.as('creator').send(new DeleteAliasCommand({ AliasName: name }))))
      .toEqual(accessDenied('creator', 'kms:DeleteAlias', aliasArn(name), 'no-identity'));
    await access.as('admin').send(new DeleteAliasCommand({ AliasName: name }));
    expect(await aliasesOf(keyId)).toEqual([]);
  });
});

describe('ListAliases: IAM only, even with a KeyId', () => {
  it('a key policy neither allows nor refuses it: the caller\'s IAM policies on "*" decide', async () => {
    // The key policy names bob for ListAliases and trusts no one else (not even the account).
    const { keyId } = await createKeyAs(root, { Policy: keyPolicy(allow(arnOf('bob'), 'kms:*')), BypassPolicyLockoutSafetyCheck: true });
    expect(await failure(access.as('bob').send(new ListAliasesCommand({ KeyId: keyId }))))
      .toEqual(accessDenied('bob', 'kms:ListAliases', '*', 'no-identity'));
    // creator's IAM names key ARNs only, never '*'.
    expect(await failure(access.as('creator').send(new ListAliasesCommand({ KeyId: keyId }))))
      .toEqual(accessDenied('creator', 'kms:ListAliases', '*', 'no-identity'));
    expect((await access.as('admin').send(new ListAliasesCommand({ KeyId: keyId }))).Aliases).toEqual([]);
  });
});

describe('UpdateAlias: both keys', () => {
  it('needs kms:UpdateAlias on the key the alias leaves, not only on the key it moves to', async () => {
    // admin may do anything by IAM, but this key's policy denies it kms:UpdateAlias.
    const guarded = await createKeyAs(root, { Policy: keyPolicy(accountAdmin, deny(arnOf('admin'), 'kms:UpdateAlias')) });
    const open = await createKeyAs(root);
    const name = `alias/guarded-${guarded.keyId}`;
    await root.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: guarded.keyId }));
    const admin = access.as('admin');
    expect(await failure(admin.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: open.keyId }))))
      .toEqual(accessDenied('admin', 'kms:UpdateAlias', guarded.arn, 'deny-resource'));
    expect(await aliasesOf(guarded.keyId)).toEqual([name]);
    expect(await aliasesOf(open.keyId)).toEqual([]);

    // The way back is refused too (the key it would move to denies), and with both keys open it moves.
    const other = `alias/open-${open.keyId}`;
    await admin.send(new CreateAliasCommand({ AliasName: other, TargetKeyId: open.keyId }));
    expect(await failure(admin.send(new UpdateAliasCommand({ AliasName: other, TargetKeyId: guarded.keyId }))))
      .toEqual(accessDenied('admin', 'kms:UpdateAlias', guarded.arn, 'deny-resource'));
    const third = await createKeyAs(root);
    await admin.send(new UpdateAliasCommand({ AliasName: other, TargetKeyId: third.keyId }));
    expect(await aliasesOf(third.keyId)).toEqual([other]);
  });
});
