// Durability: a 2xx answer survives kill -9 and a restart on the same data directory, and nothing under the
// data directory or in the server's output ever holds plaintext, data keys or key material.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand,
  GenerateDataKeyCommand, ListResourceTagsCommand, TagResourceCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { startServer } from '../support/server.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('restart on the same data directory', () => {
  it('keeps every acknowledged key, alias, tag and state after kill -9, and decrypts old ciphertexts', async () => {
    const first = await startServer();
    const kms = first.client();
    const keyId = (await kms.send(new CreateKeyCommand({ Description: 'durable' }))).KeyMetadata!.KeyId!;
    const disabledId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/durable', TargetKeyId: keyId }));
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] }));
    await kms.send(new DisableKeyCommand({ KeyId: disabledId }));
    const secret = 'plaintext-marker-7d1f0c9e';
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: 'alias/durable', Plaintext: Buffer.from(secret) }));
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    await first.stop('SIGKILL');

    const second = await startServer({ dataDir: first.dataDir });
    try {
      const again = second.client();
      expect((await again.send(new DescribeKeyCommand({ KeyId: 'alias/durable' }))).KeyMetadata).toMatchObject({ KeyId: keyId, Description: 'durable' });
      expect((await again.send(new DescribeKeyCommand({ KeyId: disabledId }))).KeyMetadata!.KeyState).toBe('Disabled');
      expect((await again.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([{ TagKey: 'k', TagValue: 'v' }]);
      const opened = await again.send(new DecryptCommand({ CiphertextBlob }));
      expect(Buffer.from(opened.Plaintext!).toString()).toBe(secret);
      const openedKey = await again.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
      expect(Buffer.from(openedKey.Plaintext!)).toEqual(Buffer.from(dataKey.Plaintext!));
      await second.stop();

      // Nothing secret at rest or in the output: not the plaintext, not the data key, in any encoding.
      const needles = [Buffer.from(secret), Buffer.from(dataKey.Plaintext!), Buffer.from(Buffer.from(dataKey.Plaintext!).toString('base64')),
        Buffer.from(Buffer.from(secret).toString('base64'))];
      for (const file of filesUnder(first.dataDir)) {
        const bytes = readFileSync(file);
        for (const needle of needles) expect(bytes.includes(needle), `${file} holds a secret`).toBe(false);
      }
      for (const needle of needles) expect(Buffer.from(first.output() + second.output()).includes(needle)).toBe(false);
      expect(statSync(join(first.dataDir, 'root.key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(first.dataDir, 'credentials')).mode & 0o777).toBe(0o600);
    } finally {
      await second.remove();
      await first.remove();
    }
  });
});
