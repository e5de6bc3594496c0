// Crash safety: the server is SIGKILLed at a random moment while several client loops create keys, encrypt,
// create aliases, tag and schedule deletions, and restarted on the same data directory, over several rounds.
// After each restart everything the server acknowledged is there: every key with its state, every alias, every
// tag, and every ciphertext decrypts. Calls that died with the server may or may not have happened; the checks
// allow both. Finally the audit log, torn by the kills, still verifies.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EnableKeyCommand,
  EncryptCommand, ListAliasesCommand, ListResourceTagsCommand, ScheduleKeyDeletionCommand, TagResourceCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startServer, type TestServer } from '../support/server.js';
import { seededRandom } from '../support/seeded-random.js';

const ROUNDS = 4;
const LOOPS = 6;
// CI replays one known seed (a red CI must mean a regression); elsewhere each run explores a new one.
const SEED = Number(process.env.KMS_CRASH_SEED ?? (process.env.CI ? 20261201 : Date.now() % 1_000_000));

interface KeyModel {
  state: 'Enabled' | 'PendingDeletion';
  /** A ScheduleKeyDeletion that died with the server: the key may be either state. */
  maybeScheduled: boolean;
  tags: Map<string, string>;
}

/** Everything the server acknowledged (answered 200 for). */
class Acknowledged {
  readonly keys = new Map<string, KeyModel>();
  readonly aliases = new Map<string, string>();
  readonly ciphertexts: Array<{ keyId: string; blob: Uint8Array; plaintext: Buffer }> = [];
  /** Calls acknowledged so far. */
  count = 0;
  enabledKeys(): string[] {
    return [...this.keys].filter(([, key]) => key.state === 'Enabled').map(([id]) => id);
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'kms-crash-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));


async function runLoad(client: KMSClient, model: Acknowledged, random: () => number, stopped: () => boolean) {
  let counter = 0;
  const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[Math.floor(random() * items.length)]);
  const loop = async (loopId: number) => {
    while (!stopped()) {
      const roll = random();
      const unique = `${loopId}-${counter++}-${Math.floor(random() * 1e9)}`;
      const keyId = pick(model.enabledKeys());
      try {
        if (roll < 0.25 || keyId === undefined) {
          const { KeyMetadata } = await client.send(new CreateKeyCommand({ Tags: [{ TagKey: 'created', TagValue: unique }] }));
          model.keys.set(KeyMetadata!.KeyId!, { state: 'Enabled', maybeScheduled: false, tags: new Map([['created', unique]]) });
        } else if (roll < 0.55) {
          const plaintext = Buffer.from(`secret ${unique}`);
          const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
          model.ciphertexts.push({ keyId, blob: CiphertextBlob!, plaintext });
        } else if (roll < 0.7) {
          const name = `alias/crash-${unique}`;
          await client.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }));
          model.aliases.set(name, keyId);
        } else if (roll < 0.9) {
          // A fresh tag key per call: an unacknowledged call can add a tag but never overwrite an acknowledged one.
          await client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: `t-${unique}`, TagValue: unique }] }));
          model.keys.get(keyId)!.tags.set(`t-${unique}`, unique);
        } else {
          model.keys.get(keyId)!.maybeScheduled = true;
          await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
          Object.assign(model.keys.get(keyId)!, { state: 'PendingDeletion', maybeScheduled: false });
        }
        model.count++;
      } catch {
        // Refused (e.g. a key scheduled for deletion meanwhile) or cut by the kill: not acknowledged.
        if (stopped()) return;
      }
    }
  };
  await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i)));
}

async function listAllAliases(client: KMSClient): Promise<Map<string, string | undefined>> {
  const aliases = new Map<string, string | undefined>();
  let marker: string | undefined;
  do {
    const page = await client.send(new ListAliasesCommand({ Marker: marker, Limit: 100 }));
    for (const alias of page.Aliases ?? []) aliases.set(alias.AliasName!, alias.TargetKeyId);
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker !== undefined);
  return aliases;
}

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

/** Checks every acknowledged fact against the restarted server; settles "maybe" states to what it finds. */
async function verify(client: KMSClient, model: Acknowledged) {
  await inBatches([...model.keys], 16, async ([keyId, key]) => {
    const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
    if (key.maybeScheduled) {
      expect(['Enabled', 'PendingDeletion']).toContain(KeyMetadata!.KeyState);
      key.state = KeyMetadata!.KeyState as KeyModel['state'];
      key.maybeScheduled = false;
    } else {
      expect(KeyMetadata!.KeyState, `state of ${keyId}`).toBe(key.state);
    }
    const { Tags } = await client.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 50 }));
    const found = new Map((Tags ?? []).map((tag) => [tag.TagKey!, tag.TagValue!]));
    for (const [tagKey, value] of key.tags) expect(found.get(tagKey), `tag ${tagKey} of ${keyId}`).toBe(value);
  });
  const aliases = await listAllAliases(client);
  for (const [name, keyId] of model.aliases) expect(aliases.get(name), `alias ${name}`).toBe(keyId);
  // Bring scheduled keys back so their ciphertexts can be checked too (and the next round can use them).
  await inBatches([...model.keys].filter(([, key]) => key.state === 'PendingDeletion'), 16, async ([keyId, key]) => {
    await client.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    await client.send(new EnableKeyCommand({ KeyId: keyId }));
    key.state = 'Enabled';
  });
  await inBatches(model.ciphertexts, 32, async ({ blob, plaintext, keyId }) => {
    const { Plaintext, KeyId } = await client.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(Buffer.from(Plaintext!).equals(plaintext)).toBe(true);
    expect(KeyId).toMatch(new RegExp(`key/${keyId}$`));
  });
}

describe(`SIGKILL under concurrent load (seed ${SEED})`, () => {
  it(`keeps every acknowledged key, state, alias, tag and ciphertext over ${ROUNDS} crashes`, async () => {
    const model = new Acknowledged();
    const random = seededRandom(SEED);
    let server: TestServer | undefined;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        server = await startServer({ dataDir });
        const client = server.client();
        await verify(client, model);
        let killed = false;
        const load = runLoad(client, model, random, () => killed);
        // Kill once the load is flowing (a few calls acknowledged), at a random moment in the next second:
        // mid-write, mid-audit, mid-batch.
        const target = model.count + 5;
        while (model.count < target) await new Promise((resolve) => setTimeout(resolve, 10));
        await new Promise((resolve) => setTimeout(resolve, random() * 1000));
        expect(await server.stop('SIGKILL')).toBe(null);
        killed = true;
        await load;
        client.destroy();
      }
      server = await startServer({ dataDir });
      const client = server.client();
      await verify(client, model);
      client.destroy();
      console.log(`crash test (seed ${SEED}): ${ROUNDS} kills, ${model.count} acknowledged calls, ${model.keys.size} keys, `
        + `${model.aliases.size} aliases, ${model.ciphertexts.length} ciphertexts verified`);
      expect(model.keys.size).toBeGreaterThan(ROUNDS);
      expect(model.ciphertexts.length).toBeGreaterThan(ROUNDS);
      await server.stop();
    } finally {
      await server?.stop('SIGKILL');
    }
    // The audit log was torn by each kill; the server repaired it at start and its chain still holds.
    const verified = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'kms-engine.js'), 'audit', 'verify', join(dataDir, 'audit.jsonl')],
      { encoding: 'utf8', timeout: 30_000 });
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
  });
});
