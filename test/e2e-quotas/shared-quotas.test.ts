// Which operations share which request quota (kms-api.md section 9), on a real server: every class limited to
// one token refilled every 4 s, so after a quiet moment the first request of a class takes its only token and any
// request sent right after it is throttled exactly when it counts against the same quota.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { rawCaller, type Caller } from './flood.js';

const RPS = 0.25;
/** Long enough for every bucket (one token, refilled at 0.25/s) to be full again; a round must end within 4 s. */
const REFILL_MS = 4_300;
const LIMITED = ['symmetric', 'rsa', 'ecc', 'ml_dsa', 'datakeypair:ECC_NIST_P256', 'datakeypair:ECC_NIST_P384', 'GetPublicKey', 'DescribeKey'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const b64 = (text: string): string => Buffer.from(text).toString('base64');
/** A blob the model accepts; a throttled request is refused before anything reads it. */
const junk = Buffer.alloc(64, 1).toString('base64');

describe(`KMS_QUOTAS with every class at ${RPS}/s: which operations share a quota`, () => {
  let server: TestServer;
  let call: Caller;
  const keys: Record<string, string> = {};
  let ciphertext: string;

  /** The call's outcome: 'ok' or the error code. */
  const outcome = async (operation: string, input: object): Promise<string> => (await call(operation, input)).code;
  /** Calls until admitted: setting up, before the rounds measure anything. */
  const admitted = async (operation: string, input: object): Promise<Record<string, unknown>> => {
    for (;;) {
      const answer = await call(operation, input);
      if (answer.code === 'ok') return answer.body;
      if (answer.code !== 'ThrottlingException') throw new Error(`${operation}: ${answer.code} ${answer.message}`);
      await sleep(300);
    }
  };

  beforeAll(async () => {
    server = await startServer({ env: { KMS_QUOTAS: LIMITED.map((quotaClass) => `${quotaClass}=${RPS}`).join(',') } });
    call = rawCaller(server);
    const specs: Record<string, object> = {
      symmetric: {}, hmac: { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' },
      rsaEncrypt: { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }, rsaSign: { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' },
      eccSign: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }, eccAgree: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' },
      mlDsa: { KeySpec: 'ML_DSA_44', KeyUsage: 'SIGN_VERIFY' },
    };
    for (const [name, spec] of Object.entries(specs)) keys[name] = ((await admitted('CreateKey', spec)).KeyMetadata as { Arn: string }).Arn;
    ciphertext = (await admitted('Encrypt', { KeyId: keys.symmetric, Plaintext: b64('hello') })).CiphertextBlob as string;
  });

  afterAll(async () => {
    await server?.remove();
  });

  it('symmetric: Encrypt, Decrypt, GenerateDataKey*, GenerateMac and VerifyMac (HMAC keys), GenerateRandom, ReEncrypt', async () => {
    await sleep(REFILL_MS);
    const outcomes = {
      Encrypt: await outcome('Encrypt', { KeyId: keys.symmetric, Plaintext: b64('x') }),
      Decrypt: await outcome('Decrypt', { CiphertextBlob: ciphertext }),
      GenerateDataKey: await outcome('GenerateDataKey', { KeyId: keys.symmetric, KeySpec: 'AES_256' }),
      GenerateDataKeyWithoutPlaintext: await outcome('GenerateDataKeyWithoutPlaintext', { KeyId: keys.symmetric, KeySpec: 'AES_256' }),
      GenerateMac: await outcome('GenerateMac', { KeyId: keys.hmac, Message: b64('x'), MacAlgorithm: 'HMAC_SHA_256' }),
      VerifyMac: await outcome('VerifyMac', { KeyId: keys.hmac, Message: b64('x'), MacAlgorithm: 'HMAC_SHA_256', Mac: junk }),
      GenerateRandom: await outcome('GenerateRandom', { NumberOfBytes: 16 }),
      ReEncrypt: await outcome('ReEncrypt', { CiphertextBlob: ciphertext, DestinationKeyId: keys.symmetric }),
      // Not symmetric: a data key pair has a quota of its own per KeyPairSpec, whatever key wraps it.
      GenerateDataKeyPair: await outcome('GenerateDataKeyPair', { KeyId: keys.symmetric, KeyPairSpec: 'ECC_NIST_P256' }),
    };
    expect(outcomes).toEqual({
      Encrypt: 'ok', Decrypt: 'ThrottlingException', GenerateDataKey: 'ThrottlingException',
      GenerateDataKeyWithoutPlaintext: 'ThrottlingException', GenerateMac: 'ThrottlingException', VerifyMac: 'ThrottlingException',
      GenerateRandom: 'ThrottlingException', ReEncrypt: 'ThrottlingException', GenerateDataKeyPair: 'ok',
    });
  });

  it('rsa: Encrypt, Decrypt, Sign and Verify with RSA keys; GetPublicKey has its own quota', async () => {
    await sleep(REFILL_MS);
    const outcomes = {
      Encrypt: await outcome('Encrypt', { KeyId: keys.rsaEncrypt, Plaintext: b64('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
      Decrypt: await outcome('Decrypt', { KeyId: keys.rsaEncrypt, CiphertextBlob: junk, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
      Sign: await outcome('Sign', { KeyId: keys.rsaSign, Message: b64('x'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
      Verify: await outcome('Verify', { KeyId: keys.rsaSign, Message: b64('x'), SigningAlgorithm: 'RSASSA_PSS_SHA_256', Signature: junk }),
      GetPublicKey: await outcome('GetPublicKey', { KeyId: keys.rsaSign }),
      // symmetric is its own quota: untouched by the RSA calls.
      SymmetricEncrypt: await outcome('Encrypt', { KeyId: keys.symmetric, Plaintext: b64('x') }),
    };
    expect(outcomes).toEqual({
      Encrypt: 'ok', Decrypt: 'ThrottlingException', Sign: 'ThrottlingException', Verify: 'ThrottlingException',
      GetPublicKey: 'ok', SymmetricEncrypt: 'ok',
    });
  });

  it('ecc: Sign, Verify and DeriveSharedSecret; ml_dsa: Sign and Verify, apart from ecc', async () => {
    await sleep(REFILL_MS);
    const outcomes = {
      EccSign: await outcome('Sign', { KeyId: keys.eccSign, Message: b64('x'), SigningAlgorithm: 'ECDSA_SHA_256' }),
      EccVerify: await outcome('Verify', { KeyId: keys.eccSign, Message: b64('x'), SigningAlgorithm: 'ECDSA_SHA_256', Signature: junk }),
      DeriveSharedSecret: await outcome('DeriveSharedSecret', { KeyId: keys.eccAgree, KeyAgreementAlgorithm: 'ECDH', PublicKey: junk }),
      MlDsaSign: await outcome('Sign', { KeyId: keys.mlDsa, Message: b64('x'), SigningAlgorithm: 'ML_DSA_SHAKE_256' }),
      MlDsaVerify: await outcome('Verify', { KeyId: keys.mlDsa, Message: b64('x'), SigningAlgorithm: 'ML_DSA_SHAKE_256', Signature: junk }),
    };
    expect(outcomes).toEqual({
      EccSign: 'ok', EccVerify: 'ThrottlingException', DeriveSharedSecret: 'ThrottlingException',
      MlDsaSign: 'ok', MlDsaVerify: 'ThrottlingException',
    });
  });

  it('data key pairs: GenerateDataKeyPair and ...WithoutPlaintext share a quota per KeyPairSpec; GetPublicKey and DescribeKey are apart', async () => {
    await sleep(REFILL_MS);
    const outcomes = {
      P256: await outcome('GenerateDataKeyPair', { KeyId: keys.symmetric, KeyPairSpec: 'ECC_NIST_P256' }),
      P256WithoutPlaintext: await outcome('GenerateDataKeyPairWithoutPlaintext', { KeyId: keys.symmetric, KeyPairSpec: 'ECC_NIST_P256' }),
      P384: await outcome('GenerateDataKeyPairWithoutPlaintext', { KeyId: keys.symmetric, KeyPairSpec: 'ECC_NIST_P384' }),
      GetPublicKey: await outcome('GetPublicKey', { KeyId: keys.eccSign }),
      GetPublicKeyAgain: await outcome('GetPublicKey', { KeyId: keys.rsaSign }),
      DescribeKey: await outcome('DescribeKey', { KeyId: keys.eccSign }),
    };
    expect(outcomes).toEqual({
      P256: 'ok', P256WithoutPlaintext: 'ThrottlingException', P384: 'ok',
      GetPublicKey: 'ok', GetPublicKeyAgain: 'ThrottlingException', DescribeKey: 'ok',
    });
  });
});
