// The pool's worker threads load liboqs too (ml-dsa-compiled.ts instantiates it when a worker starts; @noble
// serves until it is ready): Sign and Verify through the real server with the AWS SDK, every signature checked
// by @noble against the published SPKI, and no worker fell back to pure JS (the fallback announces itself on
// stderr). On a key whose seed the test imported, the two libraries the server uses (liboqs for RAW, @noble for
// EXTERNAL_MU) must agree with each other and with @noble run here on every signature, good or tampered.
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateKeyCommand, GetParametersForImportCommand, GetPublicKeyCommand, ImportKeyMaterialCommand, SignCommand, VerifyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { wrapWithOpenssl } from '../import/openssl-wrap.js';
import { serverForFile } from '../support/file-server.js';
import { outcome } from '../support/sdk-errors.js';

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

  it.each([
    ['ML_DSA_44', ml_dsa44, '0609608648016503040311', 4, 80],
    ['ML_DSA_65', ml_dsa65, '0609608648016503040312', 6, 55],
    ['ML_DSA_87', ml_dsa87, '0609608648016503040313', 8, 75],
  ] as const)('%s imported from its seed: liboqs (RAW) and @noble (EXTERNAL_MU) agree with @noble here on good and tampered signatures',
    async (spec, impl, oidDer, k, omega) => {
      const seed = randomBytes(32);
      const { secretKey, publicKey } = impl.keygen(seed);
      // RFC 9881 seed-only PKCS#8: SEQUENCE { INTEGER 0, SEQUENCE { OID }, OCTET STRING { [0] seed } }.
      const algorithm = Buffer.concat([Buffer.from([0x30, oidDer.length / 2]), Buffer.from(oidDer, 'hex')]);
      const privateKey = Buffer.concat([Buffer.from([0x04, 34, 0x80, 32]), seed]);
      const pkcs8 = Buffer.concat([Buffer.from([0x30, 3 + algorithm.length + privateKey.length, 0x02, 0x01, 0x00]), algorithm, privateKey]);
      const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }));
      const keyId = KeyMetadata!.KeyId!;
      const parameters = await shared.kms.send(new GetParametersForImportCommand({
        KeyId: keyId, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', WrappingKeySpec: 'RSA_2048',
      }));
      await shared.kms.send(new ImportKeyMaterialCommand({
        KeyId: keyId, ImportToken: parameters.ImportToken, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        EncryptedKeyMaterial: wrapWithOpenssl(parameters.PublicKey!, 'RSA_AES_KEY_WRAP_SHA_256', pkcs8),
      }));
      const { PublicKey } = await shared.kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
      expect(Buffer.from(PublicKey!).subarray(-publicKey.length).equals(Buffer.from(publicKey))).toBe(true);

      const message = randomBytes(300);
      // FIPS 204 external mu of pure ML-DSA (empty context), computed with node:crypto.
      const shake = (...parts: Uint8Array[]) => parts.reduce((hash, part) => hash.update(part), createHash('shake256', { outputLength: 64 })).digest();
      const mu = shake(shake(publicKey), Buffer.from([0, 0]), message);
      const verifyBoth = async (signature: Uint8Array) => [
        await outcome(shared.kms.send(new VerifyCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ML_DSA_SHAKE_256', Signature: signature }))),
        await outcome(shared.kms.send(new VerifyCommand({ KeyId: keyId, Message: mu, MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'ML_DSA_SHAKE_256', Signature: signature }))),
      ];
      const sign = async (type: 'RAW' | 'EXTERNAL_MU') => Buffer.from((await shared.kms.send(new SignCommand({
        KeyId: keyId, Message: type === 'RAW' ? message : mu, MessageType: type, SigningAlgorithm: 'ML_DSA_SHAKE_256',
      }))).Signature!);

      // Signatures made here with the imported secret key (deterministic and hedged) verify there both ways, and
      // the server's verify here; one made with a context string is not pure ML-DSA with an empty one.
      for (const signature of [impl.sign(message, secretKey, { extraEntropy: false }), impl.sign(message, secretKey), await sign('RAW'), await sign('EXTERNAL_MU')]) {
        expect(impl.verify(signature, message, publicKey)).toBe(true);
        expect(await verifyBoth(signature)).toEqual(['ok', 'ok']);
      }
      expect(await verifyBoth(impl.sign(message, secretKey, { context: Buffer.from('ctx') }))).toEqual(['KMSInvalidSignatureException', 'KMSInvalidSignatureException']);

      // Tampered signatures, including the hint encoding FIPS 204 requires a verifier to refuse when malformed
      // (indices out of order, counts past omega, non-zero padding): a lax decoder would accept some of them.
      const good = await sign('RAW');
      const hints = good.length - omega - k;
      const tamper = (edit: (signature: Buffer) => void) => { const copy = Buffer.from(good); edit(copy); return copy; };
      const tampered = [
        tamper((s) => { s[0]! ^= 1; }), tamper((s) => { s[100]! ^= 0x80; }), tamper((s) => { s[hints - 1]! ^= 1; }),
        tamper((s) => { s[hints]! ^= 1; }), tamper((s) => { s[good.length - 1] = omega + 1; }),
        tamper((s) => { s[good.length - k] = s[good.length - 1]!; s[good.length - 1] = 0; }),
        tamper((s) => { const used = s[good.length - 1]!; s[hints + Math.min(used, omega - 1)]! ^= 0x5a; }),
        tamper((s) => { [s[hints], s[hints + 1]] = [s[hints + 1]!, s[hints]!]; }),
      ];
      for (const [index, signature] of tampered.entries()) {
        const here = impl.verify(signature, message, publicKey) ? 'ok' : 'KMSInvalidSignatureException';
        expect(await verifyBoth(signature), `tampering ${index}`).toEqual([here, here]);
      }
    });
});
