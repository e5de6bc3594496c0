// The pool's worker threads load liboqs too (ml-dsa-compiled.ts instantiates it when a worker starts; @noble
// serves until it is ready): Sign and Verify through the real server with the AWS SDK, every signature checked
// by @noble against the published SPKI, and no worker fell back to pure JS (the fallback announces itself on
// stderr).
import { CreateKeyCommand, GetPublicKeyCommand, SignCommand, VerifyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile();

describe('ML-DSA through the server', () => {
  it('ML_DSA_65 RAW signatures from every worker verify with @noble and through Verify; no fallback to pure JS', async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_65', KeyUsage: 'SIGN_VERIFY' }));
    const keyId = KeyMetadata!.KeyId!;
    const { PublicKey } = await shared.kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    const publicRaw = Buffer.from(PublicKey!).subarray(PublicKey!.length - ml_dsa65.lengths.publicKey!);
    // Concurrent requests so that both pool workers (KMS_WORKERS=2 in tests) sign.
    const messages = Array.from({ length: 16 }, (_, i) => Buffer.from(`message ${i}`));
    const signatures = await Promise.all(messages.map(async (Message) =>
      (await shared.kms.send(new SignCommand({ KeyId: keyId, Message, MessageType: 'RAW', SigningAlgorithm: 'ML_DSA_SHAKE_256' }))).Signature!));
    for (const [i, signature] of signatures.entries()) {
      expect(ml_dsa65.verify(signature, messages[i]!, publicRaw)).toBe(true);
      const { SignatureValid } = await shared.kms.send(new VerifyCommand({
        KeyId: keyId, Message: messages[i]!, MessageType: 'RAW', SigningAlgorithm: 'ML_DSA_SHAKE_256', Signature: signature,
      }));
      expect(SignatureValid).toBe(true);
    }
    const fromNoble = ml_dsa65.sign(Buffer.from('signed elsewhere'), ml_dsa65.keygen().secretKey);
    await expect(shared.kms.send(new VerifyCommand({
      KeyId: keyId, Message: Buffer.from('signed elsewhere'), SigningAlgorithm: 'ML_DSA_SHAKE_256', Signature: fromNoble,
    }))).rejects.toMatchObject({ name: 'KMSInvalidSignatureException' });
    expect(shared.server.output()).not.toMatch(/liboqs did not load/);
  });
});
