// A burst of RSA_4096 data key pairs (one tenant minting many at once) through the real server and SDK: every
// pair is answered, each its own (PKCS#8 and SPKI that match, checked with node:crypto, no pair handed out twice),
// and the burst does not hold up the other requests that need a worker: a symmetric CreateKey, an ECC data key
// pair and a P-384 Sign sent after it are answered before half of it is. Before, every RSA generation took one
// of the pool's task slots and the rest queued in the worker pool with everything else, so the ECC pair and the
// Sign were answered after 12 of the 16 RSA_4096 generations (seconds each).
import { createPrivateKey, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import {
  CreateKeyCommand, DecryptCommand, GenerateDataKeyPairCommand, GetParametersForImportCommand, GetPublicKeyCommand,
  SignCommand, type GenerateDataKeyPairCommandOutput,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { failure } from './helpers.js';

const BURST = 16;

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.remove();
});

/** The pool's queue depth (jobs queued or generating) as /metrics reports it. */
async function poolQueueDepth(): Promise<number> {
  const body = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^kms_pool_queue_depth (\S+)$/m.exec(body)![1]);
}

describe('a burst of RSA_4096 GenerateDataKeyPair', () => {
  it('answers every pair with its own key, and lets a symmetric CreateKey, an ECC pair and a P-384 Sign through before half of it', async () => {
    const kms = server.client();
    const wrapping = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const signing = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;

    let pairsAnswered = 0;
    const burst = Array.from({ length: BURST }, (_, i) =>
      kms.send(new GenerateDataKeyPairCommand({ KeyId: wrapping, KeyPairSpec: 'RSA_4096', EncryptionContext: { tenant: `t${i}` } }))
        .finally(() => { pairsAnswered++; }));
    // Every generation of the burst is in the pool (queued or running) before the other requests are sent.
    while (await poolQueueDepth() < BURST && pairsAnswered === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pairsAnswered).toBe(0);

    const answeredBefore: Record<string, number> = {};
    const created = await kms.send(new CreateKeyCommand({}));
    answeredBefore.CreateKey = pairsAnswered;
    const eccPair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: wrapping, KeyPairSpec: 'ECC_NIST_P256' }));
    answeredBefore.GenerateDataKeyPair = pairsAnswered;
    const message = Buffer.from('tenant manifest');
    const signed = await kms.send(new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_384' }));
    answeredBefore.Sign = pairsAnswered;
    expect(created.KeyMetadata!.KeySpec).toBe('SYMMETRIC_DEFAULT');
    expect(createPublicKey(createPrivateKey({ key: Buffer.from(eccPair.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' }))
      .export({ format: 'der', type: 'spki' }).equals(Buffer.from(eccPair.PublicKey!))).toBe(true);
    const signingPublic = createPublicKey({ key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: signing }))).PublicKey!), format: 'der', type: 'spki' });
    expect(cryptoVerify('sha384', message, signingPublic, Buffer.from(signed.Signature!))).toBe(true);
    for (const count of Object.values(answeredBefore)) expect(count).toBeLessThan(BURST / 2);

    const pairs: GenerateDataKeyPairCommandOutput[] = await Promise.all(burst);
    const publicKeys = new Set<string>();
    for (const pair of pairs) {
      expect(pair).toMatchObject({ KeyId: wrapping, KeyPairSpec: 'RSA_4096' });
      const privateKey = createPrivateKey({ key: Buffer.from(pair.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' });
      expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(4096);
      const spki = Buffer.from(pair.PublicKey!);
      expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(spki)).toBe(true);
      publicKeys.add(spki.toString('base64'));
    }
    expect(publicKeys.size).toBe(BURST);
    // Each private key ciphertext opens under its own tenant's context only.
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: pairs[3]!.PrivateKeyCiphertextBlob, EncryptionContext: { tenant: 't3' } }));
    expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(pairs[3]!.PrivateKeyPlaintext!))).toBe(true);
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: pairs[3]!.PrivateKeyCiphertextBlob, EncryptionContext: { tenant: 't4' } }))))
      .toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    expect(server.output()).not.toContain('internal error');
  }, 300_000);
});

describe('a burst of RSA_4096 GetParametersForImport', () => {
  it('does not hold up an ECC data key pair: the wrapping key pairs are RSA generations like any other', async () => {
    const kms = server.client();
    const wrapping = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const external = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    let answered = 0;
    const burst = Array.from({ length: BURST }, () =>
      kms.send(new GetParametersForImportCommand({ KeyId: external, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' }))
        .finally(() => { answered++; }));
    // The burst's requests leave at once; give them a moment to reach the server (these jobs used to travel in
    // ordinary batches, which the queue depth does not count once they are on a worker).
    await new Promise((resolve) => setTimeout(resolve, 300));

    const eccPair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: wrapping, KeyPairSpec: 'ECC_NIST_P521' }));
    expect(answered).toBeLessThan(BURST / 2);
    const privateKey = createPrivateKey({ key: Buffer.from(eccPair.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' });
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(Buffer.from(eccPair.PublicKey!))).toBe(true);

    const wrappingKeys = new Set<string>();
    for (const parameters of await Promise.all(burst)) {
      const publicKey = createPublicKey({ key: Buffer.from(parameters.PublicKey!), format: 'der', type: 'spki' });
      expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(4096);
      wrappingKeys.add(Buffer.from(parameters.PublicKey!).toString('base64'));
    }
    expect(wrappingKeys.size).toBe(BURST);
  }, 300_000);
});
