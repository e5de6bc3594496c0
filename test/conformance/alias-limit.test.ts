// The 50-aliases-per-key limit (kms-api.md 5.1 and 9) under concurrency, on one real server: a flood of
// CreateAlias or UpdateAlias calls at one key must not overshoot it, however the calls interleave.
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, ListAliasesCommand, UpdateAliasCommand, type KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure, outcome } from '../support/sdk-errors.js';

const shared = serverForFile();

async function aliasNamesOf(client: KMSClient, keyId: string): Promise<string[]> {
  const { Aliases } = await client.send(new ListAliasesCommand({ KeyId: keyId, Limit: 100 }));
  return Aliases!.map((alias) => alias.AliasName!);
}

/**
 * Opens the client's connections (the SDK keeps up to 50) ahead of a flood, so the flood's requests arrive
 * together and the server runs them in one batch, interleaved at every await: the race a limit must survive.
 */
async function warmConnections(keyId: string): Promise<void> {
  await Promise.all(Array.from({ length: 60 }, () => shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))));
}

const newKey = async (): Promise<string> => (await shared.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;

describe('50 aliases per key, under concurrency', () => {
  it('60 concurrent CreateAlias calls at one key: exactly 50 succeed, the rest are LimitExceededException (400)', async () => {
    const keyId = await newKey();
    await warmConnections(keyId);
    const calls = Array.from({ length: 60 }, (_, i) =>
      shared.kms.send(new CreateAliasCommand({ AliasName: `alias/race-many-${i}`, TargetKeyId: keyId })));
    const outcomes = await Promise.all(calls.map(outcome));
    expect(outcomes.filter((result) => result === 'ok')).toHaveLength(50);
    expect(outcomes.filter((result) => result !== 'ok')).toEqual(Array(10).fill('LimitExceededException'));
    expect(await aliasNamesOf(shared.kms, keyId)).toHaveLength(50);
    expect(await failure(shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/race-many-late', TargetKeyId: keyId }))))
      .toMatchObject({ name: 'LimitExceededException', status: 400 });
  });

  it('concurrent UpdateAlias calls moving aliases onto a nearly full key fill it to 50, no further', async () => {
    const full = await newKey();
    const other = await newKey();
    for (let i = 0; i < 45; i++) await shared.kms.send(new CreateAliasCommand({ AliasName: `alias/move-full-${i}`, TargetKeyId: full }));
    for (let i = 0; i < 12; i++) await shared.kms.send(new CreateAliasCommand({ AliasName: `alias/move-in-${i}`, TargetKeyId: other }));
    await warmConnections(full);
    // Moves and new aliases at once: both count against the same limit.
    const outcomes = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => shared.kms.send(new UpdateAliasCommand({ AliasName: `alias/move-in-${i}`, TargetKeyId: full }))),
      ...Array.from({ length: 6 }, (_, i) => shared.kms.send(new CreateAliasCommand({ AliasName: `alias/move-new-${i}`, TargetKeyId: full }))),
    ].map(outcome));
    expect(outcomes.filter((result) => result === 'ok')).toHaveLength(5);
    expect(outcomes.filter((result) => result !== 'ok')).toEqual(Array(13).fill('LimitExceededException'));
    expect(await aliasNamesOf(shared.kms, full)).toHaveLength(50);
    // The refused moves left their aliases where they were.
    expect(await aliasNamesOf(shared.kms, other)).toHaveLength(12 - outcomes.slice(0, 12).filter((result) => result === 'ok').length);
  });

  it('an existing name is still AlreadyExistsException, and re-pointing an alias at its own full key is no new alias', async () => {
    const keyId = await newKey();
    await Promise.all(Array.from({ length: 50 }, (_, i) =>
      shared.kms.send(new CreateAliasCommand({ AliasName: `alias/own-full-${i}`, TargetKeyId: keyId }))));
    const other = await newKey();
    expect(await failure(shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/own-full-3', TargetKeyId: other }))))
      .toMatchObject({ name: 'AlreadyExistsException' });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () =>
      outcome(shared.kms.send(new UpdateAliasCommand({ AliasName: 'alias/own-full-7', TargetKeyId: keyId })))));
    expect(outcomes).toEqual(Array(10).fill('ok'));
    expect(await aliasNamesOf(shared.kms, keyId)).toHaveLength(50);
  });
});
