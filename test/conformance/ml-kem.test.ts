// ML-KEM keys (ML_KEM_512/768/1024, JS SDK 3.1164) through the AWS SDK against the real server, each result
// checked independently with @noble/post-quantum: the client encapsulates to GetPublicKey's key and the engine
// decapsulates the same secret; a data key pair's private key expands to its public key and opens what was
// encapsulated to it. Also: key usage and state rules, implicit rejection, grants, audit, last use.
import {
  CreateGrantCommand, CreateKeyCommand, DecapsulateCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand,
  EncapsulateCommand, GenerateDataKeyPairCommand, GetKeyLastUsageCommand, GetPublicKeyCommand, SignCommand,
  type KeySpec,
} from '@aws-sdk/client-kms';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile();

type KemSpec = 'ML_KEM_512' | 'ML_KEM_768' | 'ML_KEM_1024';
/** FIPS 203 parameter sets and the OIDs of their SPKI / PKCS#8 (2.16.840.1.101.3.4.4.1/2/3), DER-encoded. */
const SETS: Record<KemSpec, { impl: typeof ml_kem768; oid: string; ciphertextBytes: number }> = {
  ML_KEM_512: { impl: ml_kem512, oid: '0609608648016503040401', ciphertextBytes: 768 },
  ML_KEM_768: { impl: ml_kem768, oid: '0609608648016503040402', ciphertextBytes: 1088 },
  ML_KEM_1024: { impl: ml_kem1024, oid: '0609608648016503040403', ciphertextBytes: 1568 },
};

async function kemKey(spec: KemSpec): Promise<string> {
  const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'ENCAPSULATE_DECAPSULATE' }));
  return KeyMetadata!.KeyId!;
}

/** The raw encapsulation key from an ML-KEM SPKI, after checking its algorithm identifier. */
function rawPublicKey(spec: KemSpec, spki: Uint8Array): Uint8Array {
  const der = Buffer.from(spki);
  const length = SETS[spec].impl.lengths.publicKey!;
  expect(der.toString('hex')).toContain(`300b${SETS[spec].oid}`);
  expect(der.subarray(der.length - length - 1, der.length - length)).toEqual(Buffer.from([0])); // BIT STRING's unused bits
  return der.subarray(der.length - length);
}

const decapsulate = (keyId: string, ciphertext: Uint8Array) =>
  shared.kms.send(new DecapsulateCommand({ KeyId: keyId, EncapsulationAlgorithm: 'ML_KEM', SharedSecretCiphertextBlob: ciphertext }));

describe('ML-KEM keys', () => {
  it.each(Object.keys(SETS) as KemSpec[])('%s: the engine decapsulates what a client encapsulated to its public key, and its own encapsulations', async (spec) => {
    const keyId = await kemKey(spec);
    const { KeyMetadata } = await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(KeyMetadata).toMatchObject({ KeySpec: spec, KeyUsage: 'ENCAPSULATE_DECAPSULATE', EncapsulationAlgorithms: ['ML_KEM'] });
    expect(KeyMetadata!.SigningAlgorithms).toBeUndefined();
    const publicKey = await shared.kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(publicKey).toMatchObject({ KeySpec: spec, KeyUsage: 'ENCAPSULATE_DECAPSULATE', EncapsulationAlgorithms: ['ML_KEM'] });

    // Independent: @noble encapsulates to the published key; the engine must recover the same secret.
    const { cipherText, sharedSecret } = SETS[spec].impl.encapsulate(rawPublicKey(spec, publicKey.PublicKey!));
    const opened = await decapsulate(keyId, cipherText);
    expect(Buffer.from(opened.SharedSecret!)).toEqual(Buffer.from(sharedSecret));
    expect(opened).toMatchObject({ KeyId: KeyMetadata!.Arn, EncapsulationAlgorithm: 'ML_KEM' });

    const sealed = await shared.kms.send(new EncapsulateCommand({ KeyId: keyId, EncapsulationAlgorithm: 'ML_KEM' }));
    expect(sealed.SharedSecret).toHaveLength(32);
    expect(sealed.SharedSecretCiphertextBlob).toHaveLength(SETS[spec].ciphertextBytes);
    expect(sealed).toMatchObject({ KeyId: KeyMetadata!.Arn, EncapsulationAlgorithm: 'ML_KEM' });
    expect(Buffer.from((await decapsulate(keyId, sealed.SharedSecretCiphertextBlob!)).SharedSecret!)).toEqual(Buffer.from(sealed.SharedSecret!));
  });

  it('answers a tampered ciphertext with an unrelated secret (implicit rejection) and a wrong-length one with InvalidCiphertextException', async () => {
    const keyId = await kemKey('ML_KEM_768');
    const sealed = await shared.kms.send(new EncapsulateCommand({ KeyId: keyId, EncapsulationAlgorithm: 'ML_KEM' }));
    const tampered = Buffer.from(sealed.SharedSecretCiphertextBlob!);
    tampered[10]! ^= 1;
    const rejected = await decapsulate(keyId, tampered);
    expect(rejected.SharedSecret).toHaveLength(32);
    expect(Buffer.from(rejected.SharedSecret!)).not.toEqual(Buffer.from(sealed.SharedSecret!));
    expect(await failure(decapsulate(keyId, tampered.subarray(1)))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
  });

  it('gives data key pairs whose private key expands to their public key and opens what is encapsulated to it', async () => {
    const wrapping = (await shared.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const pair = await shared.kms.send(new GenerateDataKeyPairCommand({ KeyId: wrapping, KeyPairSpec: 'ML_KEM_1024' }));
    expect(pair.KeyPairSpec).toBe('ML_KEM_1024');
    const pkcs8 = Buffer.from(pair.PrivateKeyPlaintext!);
    // Seed-only PKCS#8: version 0, the ML-KEM-1024 OID, OCTET STRING { [0] 64-byte seed }.
    expect(pkcs8.subarray(0, 22).toString('hex')).toBe(`3054020100300b${SETS.ML_KEM_1024.oid}04428040`);
    const { publicKey, secretKey } = ml_kem1024.keygen(pkcs8.subarray(pkcs8.length - 64));
    expect(Buffer.from(rawPublicKey('ML_KEM_1024', pair.PublicKey!))).toEqual(Buffer.from(publicKey));
    const { cipherText, sharedSecret } = ml_kem1024.encapsulate(publicKey);
    expect(Buffer.from(ml_kem1024.decapsulate(cipherText, secretKey))).toEqual(Buffer.from(sharedSecret));
    const { Plaintext } = await shared.kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob }));
    expect(Buffer.from(Plaintext!)).toEqual(pkcs8);
  });

  it('keeps usages apart, refuses disabled keys, and grants only what an ML-KEM key can do', async () => {
    const keyId = await kemKey('ML_KEM_512');
    const symmetric = (await shared.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(await failure(shared.kms.send(new CreateKeyCommand({ KeySpec: 'ML_KEM_768' as KeySpec }))))
      .toMatchObject({ name: 'ValidationException' });
    expect(await failure(shared.kms.send(new CreateKeyCommand({ KeySpec: 'ML_KEM_768', KeyUsage: 'SIGN_VERIFY' }))))
      .toMatchObject({ name: 'ValidationException' });
    expect(await failure(shared.kms.send(new EncapsulateCommand({ KeyId: symmetric, EncapsulationAlgorithm: 'ML_KEM' }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
    expect(await failure(shared.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ML_DSA_SHAKE_256' }))))
      .toMatchObject({ name: 'InvalidKeyUsageException' });

    const grantee = 'arn:aws:iam::111122223333:user/kem';
    await shared.kms.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: grantee, Operations: ['Encapsulate', 'Decapsulate', 'GetPublicKey'] }));
    expect(await failure(shared.kms.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: grantee, Operations: ['Sign'] }))))
      .toMatchObject({ name: 'ValidationException' });

    await shared.kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect(await failure(shared.kms.send(new EncapsulateCommand({ KeyId: keyId, EncapsulationAlgorithm: 'ML_KEM' }))))
      .toMatchObject({ name: 'DisabledException', status: 409 });
  });

  it('audits Decapsulate without its shared secret, and counts it as the key\'s last use', async () => {
    const keyId = await kemKey('ML_KEM_768');
    const sealed = await shared.kms.send(new EncapsulateCommand({ KeyId: keyId, EncapsulationAlgorithm: 'ML_KEM' }));
    const opened = await decapsulate(keyId, sealed.SharedSecretCiphertextBlob!);
    const { KeyLastUsage } = await shared.kms.send(new GetKeyLastUsageCommand({ KeyId: keyId }));
    expect(KeyLastUsage).toMatchObject({ Operation: 'Decapsulate', KmsRequestId: opened.$metadata.requestId });
    const log = readFileSync(join(shared.server.dataDir, 'audit.jsonl'), 'utf8');
    const record = log.trim().split('\n').map((line) => JSON.parse(line) as { requestID: string; eventName: string })
      .find((r) => r.requestID === opened.$metadata.requestId);
    expect(record?.eventName).toBe('Decapsulate');
    for (const secret of [sealed.SharedSecret!, opened.SharedSecret!]) {
      expect(log).not.toContain(Buffer.from(secret).toString('base64'));
      expect(log).not.toContain(Buffer.from(secret).toString('hex'));
    }
  });
});
