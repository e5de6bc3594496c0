// Sign and Verify. Message-type and digest-length rules are checked here, before any quota or crypto work is
// spent; the worker's primitives do the signing. A failed Verify is KMSInvalidSignatureException, never false.
import { KEY_SPECS, SIGNING_HASH, type MessageType, type SigningAlgorithm } from '../contract/key-specs.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import { b64, keyRef, requireUsage, type RequestContext } from './context.js';
import { cryptoQuota } from './crypto-common.js';
import type { Operation } from './types.js';

function checkMessage(key: KeyRecord, algorithm: SigningAlgorithm, messageType: MessageType, message: Buffer): void {
  const info = KEY_SPECS[key.spec];
  if (!info.signingAlgorithms?.includes(algorithm)) {
    // AWS's words, the same as Encrypt's for an encryption algorithm the key spec lacks.
    throw new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${key.spec}.`);
  }
  // AWS's words: a message type the key spec never takes names the key spec (DIGEST on ML-DSA keys), one the
  // algorithm does not take names the algorithm (the Ed25519 pair). EXTERNAL_MU on a key that is not ML-DSA is
  // worded as the key spec case.
  const mlDsa = info.family === 'ml-dsa';
  if ((messageType === 'EXTERNAL_MU' && !mlDsa) || (messageType === 'DIGEST' && mlDsa)) {
    throw new KmsError('ValidationException', `Message type ${messageType} is incompatible with key spec ${key.spec}.`);
  }
  if ((messageType === 'DIGEST' && algorithm === 'ED25519_SHA_512') || (messageType === 'RAW' && algorithm === 'ED25519_PH_SHA_512')) {
    throw new KmsError('ValidationException', `Message type ${messageType} is incompatible with algorithm ${algorithm}.`);
  }
  if (messageType !== 'RAW' && message.length !== SIGNING_HASH[algorithm].digestBytes) {
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`);
  }
}

interface SigningRequest {
  key: KeyRecord;
  algorithm: SigningAlgorithm;
  messageType: MessageType;
  message: Buffer;
}

/** Sign and Verify read the same inputs and need the same key: resolved, authorized, SIGN_VERIFY, rules met. */
async function signingRequest(ctx: RequestContext, operation: 'Sign' | 'Verify'): Promise<SigningRequest> {
  const { input } = ctx;
  const algorithm = input.SigningAlgorithm as SigningAlgorithm;
  const messageType = (input.MessageType ?? 'RAW') as MessageType;
  const message = input.Message as Buffer;
  const key = await ctx.useKey(input.KeyId as string, {
    action: `kms:${operation}`, allowAlias: true, states: 'enabled', grantOperation: operation, quota: cryptoQuota,
  });
  requireUsage(key, 'SIGN_VERIFY', operation);
  checkMessage(key, algorithm, messageType, message);
  return { key, algorithm, messageType, message };
}

export const sign: Operation = {
  readOnly: true,
  async run(_input, ctx) {
    const { key, algorithm, messageType, message } = await signingRequest(ctx, 'Sign');
    const { signature } = await ctx.job({ op: 'sign', key: keyRef(key), algorithm, messageType, message });
    return { KeyId: key.arn, Signature: b64(signature), SigningAlgorithm: algorithm };
  },
};

export const verify: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const { key, algorithm, messageType, message } = await signingRequest(ctx, 'Verify');
    const { valid } = await ctx.job({
      op: 'verify', key: keyRef(key), algorithm, messageType, message, signature: input.Signature as Buffer,
    });
    if (!valid) throw new KmsError('KMSInvalidSignatureException', 'The signature is not valid for this message and key.');
    return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm };
  },
};
