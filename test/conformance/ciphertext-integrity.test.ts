// Ciphertext integrity as a client-side encryption pipeline relies on it: every single-bit flip, every truncation and
// a few extensions of a symmetric CiphertextBlob, of a GenerateDataKeyPair PrivateKeyCiphertextBlob and of RSA-OAEP
// ciphertexts are refused, with AWS's InvalidCiphertextException (or IncorrectKeyException where the altered blob
// names another key and the caller named the key), on Decrypt and on ReEncrypt's source side alike: never a
// plaintext, never a server fault. The real server, driven by the AWS SDK.
import {
  CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyPairWithoutPlaintextCommand, ReEncryptCommand,
  type EncryptionAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile();

/** The symmetric blob's key id bytes (ciphertext-blob.ts: version(1) | keyId(16) | ...): altered, they name another key. */
const KEY_ID_BYTES = { from: 1, to: 17 };

interface Variant {
  readonly name: string;
  readonly blob: Buffer;
  /** The byte a bit flip changed; undefined for a truncation or extension. */
  readonly flippedByte?: number;
}

/** Every single-bit flip, every shorter prefix (1 byte up) and the blob with 1..8 bytes added. */
function variantsOf(blob: Uint8Array): Variant[] {
  const original = Buffer.from(blob);
  const variants: Variant[] = [];
  for (let bit = 0; bit < original.length * 8; bit++) {
    const flipped = Buffer.from(original);
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    variants.push({ name: `bit ${bit} flipped`, blob: flipped, flippedByte: bit >> 3 });
  }
  for (let length = 1; length < original.length; length++) {
    variants.push({ name: `cut to ${length} bytes`, blob: original.subarray(0, length) });
  }
  for (let extra = 1; extra <= 8; extra++) {
    variants.push({ name: `${extra} bytes added`, blob: Buffer.concat([original, Buffer.alloc(extra, extra)]) });
  }
  return variants;
}

/**
 * Sends every variant (32 at a time) and returns those answered otherwise than `expected` says, as
 * "variant: answer"; a call that succeeds answers "plaintext returned", a server fault its status.
 */
async function misanswered(blob: Uint8Array, call: (variant: Buffer) => Promise<unknown>,
  expected: (variant: Variant) => string): Promise<string[]> {
  const wrong: string[] = [];
  const variants = variantsOf(blob);
  for (let start = 0; start < variants.length; start += 32) {
    const answers = await Promise.all(variants.slice(start, start + 32).map(async (variant) => {
      try {
        await call(variant.blob);
        return { variant, answer: 'plaintext returned' };
      } catch (error) {
        const { name, $metadata } = error as { name: string; $metadata?: { httpStatusCode?: number } };
        return { variant, answer: `${name} (${$metadata?.httpStatusCode})` };
      }
    }));
    for (const { variant, answer } of answers) {
      if (answer !== `${expected(variant)} (400)`) wrong.push(`${variant.name}: ${answer}`);
    }
  }
  return wrong;
}

const invalidCiphertext = (): string => 'InvalidCiphertextException';

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<{ keyId: string; arn: string }> {
  const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand(input));
  return { keyId: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! };
}

describe('a symmetric CiphertextBlob altered in any way is refused', () => {
  const context = { tenant: 'green', purpose: 'integrity' };

  it('by Decrypt without a KeyId, with the key named, and by ReEncrypt as its source', async () => {
    const source = await newKey();
    const destination = await newKey();
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({
      KeyId: source.keyId, Plaintext: Buffer.from('attack at dawn'), EncryptionContext: context,
    }));
    // The unaltered blob opens every way, so each refusal below is the alteration's.
    await shared.kms.send(new DecryptCommand({ CiphertextBlob, KeyId: source.arn, EncryptionContext: context }));
    await shared.kms.send(new ReEncryptCommand({ CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: destination.keyId }));

    expect(await misanswered(CiphertextBlob!, (blob) => shared.kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context })),
      invalidCiphertext)).toEqual([]);
    // Naming the key: a blob altered to name another key is IncorrectKeyException, as AWS answers a blob of another key.
    const namedKeyAnswer = (variant: Variant): string => variant.flippedByte !== undefined
      && variant.flippedByte >= KEY_ID_BYTES.from && variant.flippedByte < KEY_ID_BYTES.to ? 'IncorrectKeyException' : 'InvalidCiphertextException';
    expect(await misanswered(CiphertextBlob!,
      (blob) => shared.kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: source.arn, EncryptionContext: context })),
      namedKeyAnswer)).toEqual([]);
    expect(await misanswered(CiphertextBlob!, (blob) => shared.kms.send(new ReEncryptCommand({
      CiphertextBlob: blob, SourceEncryptionContext: context, DestinationKeyId: destination.keyId,
    })), invalidCiphertext)).toEqual([]);
    expect(await misanswered(CiphertextBlob!, (blob) => shared.kms.send(new ReEncryptCommand({
      CiphertextBlob: blob, SourceKeyId: source.keyId, SourceEncryptionContext: context, DestinationKeyId: destination.keyId,
    })), namedKeyAnswer)).toEqual([]);
  });

  it('a GenerateDataKeyPair PrivateKeyCiphertextBlob altered in any way does not decrypt', async () => {
    const { keyId } = await newKey();
    const { PrivateKeyCiphertextBlob } = await shared.kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({
      KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: context,
    }));
    await shared.kms.send(new DecryptCommand({ CiphertextBlob: PrivateKeyCiphertextBlob, EncryptionContext: context }));
    expect(await misanswered(PrivateKeyCiphertextBlob!,
      (blob) => shared.kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context })), invalidCiphertext)).toEqual([]);
  });
});

describe('an RSA-OAEP ciphertext altered in any way is refused', () => {
  for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] satisfies EncryptionAlgorithmSpec[]) {
    it(`${algorithm}: by Decrypt and by ReEncrypt as its source`, async () => {
      const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
      const destination = await newKey();
      const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({
        KeyId: rsa.keyId, Plaintext: Buffer.from('attack at dawn'), EncryptionAlgorithm: algorithm,
      }));
      await shared.kms.send(new DecryptCommand({ CiphertextBlob, KeyId: rsa.keyId, EncryptionAlgorithm: algorithm }));
      expect(await misanswered(CiphertextBlob!,
        (blob) => shared.kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: rsa.keyId, EncryptionAlgorithm: algorithm })),
        invalidCiphertext)).toEqual([]);
      expect(await misanswered(CiphertextBlob!, (blob) => shared.kms.send(new ReEncryptCommand({
        CiphertextBlob: blob, SourceKeyId: rsa.arn, SourceEncryptionAlgorithm: algorithm, DestinationKeyId: destination.keyId,
      })), invalidCiphertext)).toEqual([]);
    });
  }
});
