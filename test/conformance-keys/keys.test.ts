// CreateKey for every key spec and usage, the metadata and public keys the server reports, HMAC and ECDH
// through the real server, and `aws kms sign / verify / get-public-key` (AWS CLI v2).
import { execFile } from 'node:child_process';
import { createHmac, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, randomUUID, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateKeyCommand, DeriveSharedSecretCommand, DescribeKeyCommand, GenerateMacCommand, GetPublicKeyCommand, VerifyMacCommand,
  type KMSClient, type KeyMetadata, type KeySpec, type KeyUsageType, type MacAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import {
  SIGNING_ALGORITHMS, SPEC_USAGES, externalMu, failure, opensslVerifies, signingKey, sorted, verifyIndependently,
} from './helpers.js';

const run = promisify(execFile);

const MAC_BYTES: Record<string, number> = { HMAC_224: 28, HMAC_256: 32, HMAC_384: 48, HMAC_512: 64 };
const CURVES: Record<string, { curve: string; secretBytes: number }> = {
  ECC_NIST_P256: { curve: 'prime256v1', secretBytes: 32 },
  ECC_NIST_P384: { curve: 'secp384r1', secretBytes: 48 },
  ECC_NIST_P521: { curve: 'secp521r1', secretBytes: 66 },
};
/** RSA_3072/4096 keys are generated in rsa.test.ts only (slow); here their spec/usage rules are checked. */
const CREATED = Object.entries(SPEC_USAGES).flatMap(([spec, usages]) =>
  spec === 'RSA_3072' || spec === 'RSA_4096' || spec.startsWith('ML_KEM_') ? [] : usages.map((usage) => ({ spec, usage })));

/** Seeded HMAC keys with known material: GenerateMac must equal node:crypto's HMAC. */
const SEEDED_HMAC = Object.keys(MAC_BYTES).map((spec) => ({ spec, keyId: randomUUID(), material: randomBytes(MAC_BYTES[spec]!) }));

let server: TestServer;
let kms: KMSClient;
let seedDir: string;
/** `${spec} ${usage}` -> KeyMetadata from CreateKey */
const created = new Map<string, KeyMetadata>();
const arnOf = (spec: string, usage: KeyUsageType): string => created.get(`${spec} ${usage}`)!.Arn!;

beforeAll(async () => {
  seedDir = mkdtempSync(join(tmpdir(), 'kms-keys-seed-'));
  const seedFile = join(seedDir, 'seed.json');
  writeFileSync(seedFile, JSON.stringify({
    keys: SEEDED_HMAC.map(({ spec, keyId, material }) => ({ keyId, keySpec: spec, keyUsage: 'GENERATE_VERIFY_MAC', material: material.toString('base64') })),
  }));
  server = await startServer({ env: { KMS_SEED_FILE: seedFile } });
  kms = server.client();
  await Promise.all(CREATED.map(async ({ spec, usage }) => {
    const input = spec === 'SYMMETRIC_DEFAULT' ? {} : { KeySpec: spec as KeySpec, KeyUsage: usage };
    created.set(`${spec} ${usage}`, (await kms.send(new CreateKeyCommand(input))).KeyMetadata!);
  }));
});
afterAll(async () => {
  await server?.remove();
  rmSync(seedDir, { recursive: true, force: true });
});

/** Exactly the algorithm list of the key's usage, and no other list (kms-api.md section 5). */
function expectAlgorithmsOf(answer: Partial<KeyMetadata>, spec: string, usage: KeyUsageType): void {
  const lists = {
    EncryptionAlgorithms: usage === 'ENCRYPT_DECRYPT'
      ? (spec === 'SYMMETRIC_DEFAULT' ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']) : undefined,
    SigningAlgorithms: usage === 'SIGN_VERIFY' ? sorted(SIGNING_ALGORITHMS[spec]) : undefined,
    MacAlgorithms: usage === 'GENERATE_VERIFY_MAC' ? [`HMAC_SHA_${spec.slice(5)}`] : undefined,
    KeyAgreementAlgorithms: usage === 'KEY_AGREEMENT' ? ['ECDH'] : undefined,
  };
  for (const [field, expected] of Object.entries(lists)) {
    const actual = answer[field as keyof typeof lists];
    expect(actual === undefined ? undefined : sorted(actual), `${spec} ${usage} ${field}`).toEqual(expected);
  }
}

describe('CreateKey, DescribeKey and GetPublicKey', () => {
  it.each(CREATED)('$spec for $usage: metadata with exactly the algorithms of the usage', async ({ spec, usage }) => {
    const metadata = created.get(`${spec} ${usage}`)!;
    expect(metadata).toMatchObject({
      KeySpec: spec, CustomerMasterKeySpec: spec, KeyUsage: usage, KeyState: 'Enabled', Enabled: true, Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER', MultiRegion: false,
    });
    expectAlgorithmsOf(metadata, spec, usage);
    if (spec === 'SYMMETRIC_DEFAULT') expect(metadata.CurrentKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    else expect(metadata.CurrentKeyMaterialId).toBeUndefined();
    expect((await kms.send(new DescribeKeyCommand({ KeyId: metadata.KeyId }))).KeyMetadata).toEqual(metadata);

    if (spec === 'SYMMETRIC_DEFAULT' || spec.startsWith('HMAC_')) {
      expect(await failure(kms.send(new GetPublicKeyCommand({ KeyId: metadata.Arn }))))
        .toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
      return;
    }
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: metadata.KeyId }));
    expect(pub).toMatchObject({ KeyId: metadata.Arn, KeySpec: spec, CustomerMasterKeySpec: spec, KeyUsage: usage });
    expectAlgorithmsOf(pub, spec, usage);
    if (!spec.startsWith('ML_DSA_')) {
      const publicKey = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
      const expectedType = spec.startsWith('RSA_') ? 'rsa' : spec === 'ECC_NIST_EDWARDS25519' ? 'ed25519' : 'ec';
      expect(publicKey.asymmetricKeyType).toBe(expectedType);
      // Re-encoding by OpenSSL gives the same bytes: a canonical DER SubjectPublicKeyInfo.
      expect(publicKey.export({ format: 'der', type: 'spki' }).equals(Buffer.from(pub.PublicKey!))).toBe(true);
    }
  });

});

describe('GenerateMac and VerifyMac', () => {
  it.each(SEEDED_HMAC)('$spec: the MAC equals node:crypto HMAC of the seeded material', async ({ spec, keyId, material }) => {
    const algorithm = `HMAC_SHA_${spec.slice(5)}` as MacAlgorithmSpec;
    const message = randomBytes(200);
    const out = await kms.send(new GenerateMacCommand({ KeyId: keyId, MacAlgorithm: algorithm, Message: message }));
    expect(out).toMatchObject({ MacAlgorithm: algorithm, KeyId: `arn:aws:kms:us-east-1:111122223333:key/${keyId}` });
    expect(Buffer.from(out.Mac!).equals(createHmac(`sha${spec.slice(5)}`, material).update(message).digest())).toBe(true);
  });

  it.each(Object.keys(MAC_BYTES))('%s: GenerateMac -> VerifyMac round trip; mismatches and wrong algorithms fail as AWS does', async (spec) => {
    const arn = arnOf(spec, 'GENERATE_VERIFY_MAC');
    const algorithm = `HMAC_SHA_${spec.slice(5)}` as MacAlgorithmSpec;
    const message = randomBytes(100);
    const { Mac } = await kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: message }));
    expect(Mac!.length).toBe(MAC_BYTES[spec]);
    const again = await kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: message }));
    expect(Buffer.from(again.Mac!).equals(Buffer.from(Mac!))).toBe(true);
    expect(await kms.send(new VerifyMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: message, Mac })))
      .toMatchObject({ KeyId: arn, MacValid: true, MacAlgorithm: algorithm });

    const tampered = Buffer.from(Mac!);
    tampered[0]! ^= 1;
    for (const [badMessage, badMac] of [[message, tampered], [randomBytes(100), Mac!], [message, Buffer.from(Mac!).subarray(1)]] as const) {
      expect(await failure(kms.send(new VerifyMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: badMessage, Mac: badMac }))))
        .toMatchObject({ name: 'KMSInvalidMacException', status: 400 });
    }
    const wrong = spec === 'HMAC_256' ? 'HMAC_SHA_512' : 'HMAC_SHA_256';
    expect(await failure(kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: wrong, Message: message }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
    expect(await failure(kms.send(new VerifyMacCommand({ KeyId: arn, MacAlgorithm: wrong, Message: message, Mac }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
  });

  it('a key of another usage cannot MAC', async () => {
    for (const arn of [arnOf('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'), arnOf('ECC_NIST_P256', 'SIGN_VERIFY')]) {
      expect(await failure(kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('m') }))))
        .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
    }
  });
});

describe('DeriveSharedSecret', () => {
  it.each(Object.keys(CURVES))('%s: equals the ECDH a peer derives from its private key and the KMS public key', async (spec) => {
    const { curve, secretBytes } = CURVES[spec]!;
    const arn = arnOf(spec, 'KEY_AGREEMENT');
    const peer = generateKeyPairSync('ec', { namedCurve: curve });
    const out = await kms.send(new DeriveSharedSecretCommand({
      KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicKey.export({ format: 'der', type: 'spki' }),
    }));
    expect(out).toMatchObject({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'AWS_KMS' });
    const kmsPublic = createPublicKey({ key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: arn }))).PublicKey!), format: 'der', type: 'spki' });
    const expected = diffieHellman({ privateKey: peer.privateKey, publicKey: kmsPublic });
    expect(out.SharedSecret!.length).toBe(secretBytes);
    expect(Buffer.from(out.SharedSecret!).equals(expected)).toBe(true);
  });

  it('rejects peers on another curve, malformed keys and keys of another usage', async () => {
    const arn = arnOf('ECC_NIST_P256', 'KEY_AGREEMENT');
    const otherCurve = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
    expect(await failure(kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: otherCurve }))))
      .toMatchObject({ name: 'ValidationException', status: 400 });
    expect(await failure(kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: randomBytes(91) }))))
      .toMatchObject({ name: 'ValidationException', status: 400 });
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    expect(await failure(kms.send(new DeriveSharedSecretCommand({ KeyId: arnOf('ECC_NIST_P256', 'SIGN_VERIFY'), KeyAgreementAlgorithm: 'ECDH', PublicKey: peer }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
    expect(server.output()).not.toContain('internal error');
  });
});

describe('AWS CLI v2', () => {
  const aws = async (...args: string[]): Promise<Record<string, unknown>> => {
    const { stdout } = await run('/usr/bin/aws', ['kms', ...args, '--endpoint-url', server.url, '--output', 'json'], {
      env: {
        ...process.env, AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
        AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '',
      },
      timeout: 30_000,
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it('`aws kms get-public-key`, `sign` and `verify`: the signature checks with openssl, a bad one is KMSInvalidSignatureException', async () => {
    const arn = arnOf('ECC_NIST_P256', 'SIGN_VERIFY');
    const dir = mkdtempSync(join(tmpdir(), 'kms-cli-'));
    try {
      const published = await aws('get-public-key', '--key-id', arn);
      expect(published).toMatchObject({ KeyId: arn, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ECDSA_SHA_256'] });
      const spki = Buffer.from(published.PublicKey as string, 'base64');
      const key = await signingKey(kms, arn);
      expect(spki.equals(key.spki)).toBe(true);

      const message = randomBytes(300);
      writeFileSync(join(dir, 'message.bin'), message);
      const signed = await aws('sign', '--key-id', arn, '--message', `fileb://${join(dir, 'message.bin')}`, '--message-type', 'RAW',
        '--signing-algorithm', 'ECDSA_SHA_256');
      expect(signed).toMatchObject({ KeyId: arn, SigningAlgorithm: 'ECDSA_SHA_256' });
      const signature = Buffer.from(signed.Signature as string, 'base64');
      expect(nodeVerify('sha256', message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature)).toBe(true);
      expect(opensslVerifies(key, 'ECDSA_SHA_256', 'RAW', message, signature)).toBe(true);

      writeFileSync(join(dir, 'signature.bin'), signature);
      const verified = await aws('verify', '--key-id', arn, '--message', `fileb://${join(dir, 'message.bin')}`,
        '--signature', `fileb://${join(dir, 'signature.bin')}`, '--signing-algorithm', 'ECDSA_SHA_256');
      expect(verified).toMatchObject({ KeyId: arn, SignatureValid: true, SigningAlgorithm: 'ECDSA_SHA_256' });

      writeFileSync(join(dir, 'other.bin'), randomBytes(300));
      await expect(aws('verify', '--key-id', arn, '--message', `fileb://${join(dir, 'other.bin')}`,
        '--signature', `fileb://${join(dir, 'signature.bin')}`, '--signing-algorithm', 'ECDSA_SHA_256')).rejects.toThrow(/KMSInvalidSignatureException/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`aws kms sign` with an ML-DSA key over EXTERNAL_MU: a pure ML-DSA signature of the message', async () => {
    const key = await signingKey(kms, arnOf('ML_DSA_65', 'SIGN_VERIFY'));
    const dir = mkdtempSync(join(tmpdir(), 'kms-cli-'));
    try {
      const message = randomBytes(500);
      writeFileSync(join(dir, 'mu.bin'), externalMu(key.mlDsaPublic!, message));
      const signed = await aws('sign', '--key-id', key.arn, '--message', `fileb://${join(dir, 'mu.bin')}`, '--message-type', 'EXTERNAL_MU',
        '--signing-algorithm', 'ML_DSA_SHAKE_256');
      const signature = Buffer.from(signed.Signature as string, 'base64');
      expect(signature.length).toBe(3309);
      expect(verifyIndependently(key, 'ML_DSA_SHAKE_256', message, signature)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
