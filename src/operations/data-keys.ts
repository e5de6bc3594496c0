// GenerateDataKey, GenerateDataKeyPair and their WithoutPlaintext variants: one implementation each, the
// variant a flag (local-kms style).
import { isDataKeyPairSpec } from '../contract/key-specs.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import { b64, keyRef, refuseRecipient, type RequestContext, type UseKeyOptions } from './context.js';
import { contextOf, cryptoQuota, requireSymmetricEncryptionKey } from './crypto-common.js';
import type { Operation } from './types.js';

const DATA_KEY_BYTES: Record<string, number> = { AES_128: 16, AES_256: 32 };

function dataKeyBytes(input: Record<string, unknown>): number {
  const spec = input.KeySpec as string | undefined;
  const count = input.NumberOfBytes as number | undefined;
  if ((spec === undefined) === (count === undefined)) {
    throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.');
  }
  return spec !== undefined ? DATA_KEY_BYTES[spec]! : count!;
}

/** The symmetric encryption key a data key (pair) is wrapped under: resolved, charged, authorized, usable. */
async function wrappingKey(ctx: RequestContext, name: string, quota: UseKeyOptions['quota']): Promise<KeyRecord> {
  const key = await ctx.useKey(ctx.input.KeyId as string, {
    action: `kms:${name}`, allowAlias: true, states: 'enabled', grantOperation: name, quota,
  });
  requireSymmetricEncryptionKey(key, name);
  refuseRecipient(ctx.input);
  return key;
}

function dataKey(name: string, withPlaintext: boolean): Operation {
  return {
    readOnly: true,
    async run(input, ctx: RequestContext) {
      const bytes = dataKeyBytes(input);
      const key = await wrappingKey(ctx, name, cryptoQuota);
      const ref = keyRef(key);
      const out = await ctx.job({ op: 'generateDataKey', key: ref, bytes, context: contextOf(input), withPlaintext });
      ctx.keyMaterialId = ref.materialId;
      return {
        CiphertextBlob: b64(out.ciphertext),
        Plaintext: out.plaintext === undefined ? undefined : b64(out.plaintext),
        KeyId: key.arn,
        KeyMaterialId: ref.materialId,
      };
    },
  };
}

function dataKeyPair(name: string, withPlaintext: boolean): Operation {
  return {
    readOnly: true,
    async run(input, ctx: RequestContext) {
      const pairSpec = input.KeyPairSpec as string;
      // Refused before the key is looked at, as CreateKey refuses KeySpec SM2.
      if (!isDataKeyPairSpec(pairSpec)) {
        throw new KmsError('UnsupportedOperationException', `KeyPairSpec ${pairSpec} is not supported in this region.`);
      }
      // Data key pairs have their own quota per pair spec, not the symmetric crypto quota.
      const key = await wrappingKey(ctx, name, () => [`datakeypair:${pairSpec}`]);
      const ref = keyRef(key);
      const out = await ctx.job({ op: 'generateDataKeyPair', key: ref, pairSpec, context: contextOf(input), withPlaintext });
      ctx.keyMaterialId = ref.materialId;
      return {
        PrivateKeyCiphertextBlob: b64(out.privateKeyCiphertext),
        PrivateKeyPlaintext: out.privateKeyPlaintext === undefined ? undefined : b64(out.privateKeyPlaintext),
        PublicKey: b64(out.publicKey),
        KeyId: key.arn,
        KeyPairSpec: pairSpec,
        KeyMaterialId: ref.materialId,
      };
    },
  };
}

export const generateDataKey = dataKey('GenerateDataKey', true);
export const generateDataKeyWithoutPlaintext = dataKey('GenerateDataKeyWithoutPlaintext', false);
export const generateDataKeyPair = dataKeyPair('GenerateDataKeyPair', true);
export const generateDataKeyPairWithoutPlaintext = dataKeyPair('GenerateDataKeyPairWithoutPlaintext', false);
