// DryRun on every operation whose input has it in the service model, through the real SDK: 412
// DryRunOperationException when the call would have succeeded, the real error when it would not (a disabled
// key, a missing grant, a forged signature, a ciphertext that does not open), and nothing changes (no grant
// created, retired or revoked).
import {
  CreateGrantCommand, CreateKeyCommand, DecapsulateCommand, DecryptCommand, DeriveSharedSecretCommand, DisableKeyCommand,
  EncapsulateCommand, EncryptCommand,
  GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand, GenerateMacCommand, ListGrantsCommand, ReEncryptCommand, RetireGrantCommand,
  RevokeGrantCommand, SignCommand, VerifyCommand, VerifyMacCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;

interface Keys {
  symmetric: string;
  hmac: string;
  signing: string;
  agreement: string;
  kem: string;
  ciphertext: Uint8Array;
  kemCiphertext: Uint8Array;
  signature: Uint8Array;
  mac: Uint8Array;
  peerPublicKey: Buffer;
  grantee: string;
}
let keys: Keys;

async function createKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<string> {
  return (await kms.send(new CreateKeyCommand(input))).KeyMetadata!.KeyId!;
}

beforeAll(async () => {
  server = await startServer();
  kms = server.client();
  const symmetric = await createKey();
  const hmac = await createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  const signing = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
  const agreement = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
  const kem = await createKey({ KeySpec: 'ML_KEM_512', KeyUsage: 'ENCAPSULATE_DECAPSULATE' });
  const message = Buffer.from('dry run');
  keys = {
    symmetric, hmac, signing, agreement, kem,
    ciphertext: (await kms.send(new EncryptCommand({ KeyId: symmetric, Plaintext: message }))).CiphertextBlob!,
    kemCiphertext: (await kms.send(new EncapsulateCommand({ KeyId: kem, EncapsulationAlgorithm: 'ML_KEM' }))).SharedSecretCiphertextBlob!,
    signature: (await kms.send(new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!,
    mac: (await kms.send(new GenerateMacCommand({ KeyId: hmac, Message: message, MacAlgorithm: 'HMAC_SHA_256' }))).Mac!,
    peerPublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }),
    grantee: `arn:aws:iam::${server.accountId}:role/dry-run-grantee`,
  };
});
afterAll(async () => {
  kms?.destroy();
  await server?.remove();
});

/** The SDK error's AWS code and HTTP status, or 'ok'. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    const { name, $metadata } = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return `${name} ${$metadata?.httpStatusCode}`;
  }
}

const message = Buffer.from('dry run');
const DryRun = true;

/** One DryRun call per operation; each needs a key that is Enabled to succeed. */
const keyOperations: Record<string, (k: Keys) => Promise<unknown>> = {
  Encrypt: (k) => kms.send(new EncryptCommand({ KeyId: k.symmetric, Plaintext: message, DryRun })),
  Decrypt: (k) => kms.send(new DecryptCommand({ CiphertextBlob: k.ciphertext, DryRun })),
  ReEncrypt: (k) => kms.send(new ReEncryptCommand({ CiphertextBlob: k.ciphertext, DestinationKeyId: k.symmetric, DryRun })),
  GenerateDataKey: (k) => kms.send(new GenerateDataKeyCommand({ KeyId: k.symmetric, KeySpec: 'AES_256', DryRun })),
  GenerateDataKeyWithoutPlaintext: (k) => kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: k.symmetric, NumberOfBytes: 16, DryRun })),
  GenerateDataKeyPair: (k) => kms.send(new GenerateDataKeyPairCommand({ KeyId: k.symmetric, KeyPairSpec: 'ECC_NIST_P256', DryRun })),
  GenerateDataKeyPairWithoutPlaintext: (k) => kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: k.symmetric, KeyPairSpec: 'ECC_NIST_P256', DryRun })),
  Sign: (k) => kms.send(new SignCommand({ KeyId: k.signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256', DryRun })),
  Verify: (k) => kms.send(new VerifyCommand({ KeyId: k.signing, Message: message, Signature: k.signature, SigningAlgorithm: 'ECDSA_SHA_256', DryRun })),
  GenerateMac: (k) => kms.send(new GenerateMacCommand({ KeyId: k.hmac, Message: message, MacAlgorithm: 'HMAC_SHA_256', DryRun })),
  VerifyMac: (k) => kms.send(new VerifyMacCommand({ KeyId: k.hmac, Message: message, Mac: k.mac, MacAlgorithm: 'HMAC_SHA_256', DryRun })),
  DeriveSharedSecret: (k) => kms.send(new DeriveSharedSecretCommand({ KeyId: k.agreement, KeyAgreementAlgorithm: 'ECDH', PublicKey: k.peerPublicKey, DryRun })),
  Encapsulate: (k) => kms.send(new EncapsulateCommand({ KeyId: k.kem, EncapsulationAlgorithm: 'ML_KEM', DryRun })),
  Decapsulate: (k) => kms.send(new DecapsulateCommand({ KeyId: k.kem, EncapsulationAlgorithm: 'ML_KEM', SharedSecretCiphertextBlob: k.kemCiphertext, DryRun })),
  CreateGrant: (k) => kms.send(new CreateGrantCommand({ KeyId: k.symmetric, GranteePrincipal: k.grantee, Operations: ['Decrypt'], DryRun })),
};

const grantCount = async (keyId: string) => (await kms.send(new ListGrantsCommand({ KeyId: keyId }))).Grants!.length;

describe('DryRun', () => {
  it('is covered here for every operation whose input has DryRun in the service model', () => {
    const model = JSON.parse(readFileSync(join(PROJECT_ROOT, 'src', 'protocol', 'kms-model.json'), 'utf8')) as {
      shapes: Record<string, { members?: Record<string, unknown> }>;
    };
    const withDryRun = Object.entries(model.shapes)
      .filter(([name, shape]) => name.endsWith('Request') && shape.members?.DryRun !== undefined)
      .map(([name]) => name.slice(0, -'Request'.length));
    const covered = [...Object.keys(keyOperations), 'RetireGrant', 'RevokeGrant'];
    expect(withDryRun.sort()).toEqual(covered.sort());
  });

  it.each(Object.keys(keyOperations))('%s: DryRunOperationException (412) when the call would succeed', async (operation) => {
    expect(await outcome(keyOperations[operation]!(keys))).toBe('DryRunOperationException 412');
  });

  it('CreateGrant with DryRun creates no grant', async () => {
    expect(await grantCount(keys.symmetric)).toBe(0);
  });

  it('RetireGrant and RevokeGrant: 412 and the grant stays; a missing grant is the real error', async () => {
    const { GrantId, GrantToken } = await kms.send(new CreateGrantCommand({
      KeyId: keys.hmac, GranteePrincipal: keys.grantee, Operations: ['GenerateMac'],
    }));
    expect(await outcome(kms.send(new RetireGrantCommand({ GrantToken, DryRun })))).toBe('DryRunOperationException 412');
    expect(await outcome(kms.send(new RetireGrantCommand({ KeyId: keys.hmac, GrantId, DryRun })))).toBe('DryRunOperationException 412');
    expect(await outcome(kms.send(new RevokeGrantCommand({ KeyId: keys.hmac, GrantId, DryRun })))).toBe('DryRunOperationException 412');
    expect(await grantCount(keys.hmac)).toBe(1);
    const missing = 'f'.repeat(64);
    expect(await outcome(kms.send(new RevokeGrantCommand({ KeyId: keys.hmac, GrantId: missing, DryRun })))).toBe('NotFoundException 404');
    expect(await outcome(kms.send(new RetireGrantCommand({ KeyId: keys.hmac, GrantId: missing, DryRun })))).toBe('NotFoundException 404');
    await kms.send(new RevokeGrantCommand({ KeyId: keys.hmac, GrantId }));
    expect(await grantCount(keys.hmac)).toBe(0);
  });

  it('Decrypt and ReEncrypt with IGNORE_CIPHERTEXT check the key without any ciphertext', async () => {
    const ignore = { DryRun, DryRunModifiers: ['IGNORE_CIPHERTEXT' as const] };
    expect(await outcome(kms.send(new DecryptCommand({ KeyId: keys.symmetric, ...ignore })))).toBe('DryRunOperationException 412');
    expect(await outcome(kms.send(new ReEncryptCommand({ SourceKeyId: keys.symmetric, DestinationKeyId: keys.symmetric, ...ignore }))))
      .toBe('DryRunOperationException 412');
    // Without the modifier the ciphertext is still checked; without a key there is nothing to check.
    expect(await outcome(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.alloc(80, 7), DryRun })))).toBe('InvalidCiphertextException 400');
    expect(await outcome(kms.send(new DecryptCommand({ ...ignore })))).toBe('ValidationException 400');
    expect(await outcome(kms.send(new DecryptCommand({ KeyId: keys.signing, ...ignore })))).toBe('InvalidKeyUsageException 400');
  });

  it('checks what the caller sent as the call would: a forged signature or MAC, a malformed peer key, a short KEM ciphertext', async () => {
    const forged = (bytes: Uint8Array) => { const copy = Buffer.from(bytes); copy[copy.length - 1]! ^= 1; return copy; };
    expect(await outcome(kms.send(new VerifyCommand({
      KeyId: keys.signing, Message: message, Signature: forged(keys.signature), SigningAlgorithm: 'ECDSA_SHA_256', DryRun,
    })))).toBe('KMSInvalidSignatureException 400');
    expect(await outcome(kms.send(new VerifyMacCommand({ KeyId: keys.hmac, Message: message, Mac: forged(keys.mac), MacAlgorithm: 'HMAC_SHA_256', DryRun }))))
      .toBe('KMSInvalidMacException 400');
    expect(await outcome(kms.send(new DeriveSharedSecretCommand({
      KeyId: keys.agreement, KeyAgreementAlgorithm: 'ECDH', PublicKey: Buffer.alloc(91, 1), DryRun,
    })))).toBe('ValidationException 400');
    expect(await outcome(kms.send(new DecapsulateCommand({
      KeyId: keys.kem, EncapsulationAlgorithm: 'ML_KEM', SharedSecretCiphertextBlob: keys.kemCiphertext.subarray(1), DryRun,
    })))).toBe('InvalidCiphertextException 400');
  });

  it.each(Object.keys(keyOperations))('%s: the real error when the call would fail (DisabledException on a disabled key)', async (operation) => {
    for (const keyId of [keys.symmetric, keys.hmac, keys.signing, keys.agreement, keys.kem]) {
      await kms.send(new DisableKeyCommand({ KeyId: keyId })); // idempotent: each case disables all five
    }
    expect(await outcome(keyOperations[operation]!(keys))).toBe('DisabledException 409');
  });
});
