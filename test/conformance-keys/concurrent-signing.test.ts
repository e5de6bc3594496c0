// A signing backend's burst through the real server: hundreds of Sign and Verify requests at once over every
// SIGN_VERIFY key spec, signing algorithm and message type, two keys of each spec, so that the crypto pool
// batches jobs of different keys, algorithms and message types together. Each signature must be the one its
// own request asked for: checked independently (node:crypto, @noble for Ed25519ph and ML-DSA) over its own
// message with its own key's SPKI from GetPublicKey. Verify must answer each request on its own: true for the
// signature with its key, KMSInvalidSignatureException for a tampered one and for the same signature under the
// other key of the spec. Run with the inline lane (the default) and with every job on the workers in small
// batches. The other files here prove each case one request at a time.
import { Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { CreateKeyCommand, KMSClient, SignCommand, VerifyCommand, type KeySpec } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { outcome } from '../support/sdk-errors.js';
import {
  SIGNING_ALGORITHMS, signatureCases, signingInput, signingKey, verifyIndependently, type SignatureCase, type SigningKey,
} from './helpers.js';

const SPECS = Object.keys(SIGNING_ALGORITHMS) as KeySpec[];
/** Messages per key and case: different lengths, the 4096-byte RAW limit among them. */
const MESSAGE_LENGTHS = [1, 777, 4096];

interface Signed extends SignatureCase {
  key: SigningKey;
  /** The other key of the same spec. */
  twin: SigningKey;
  message: Buffer;
  /** What the request carried: the message, its digest or ML-DSA's mu. */
  sent: Buffer;
  signature: Buffer;
}

/** verifyIndependently, with a signature of another algorithm's size (a mix-up) counted as not verifying. */
function verifies(key: SigningKey, algorithm: string, message: Buffer, signature: Buffer): boolean {
  try {
    return verifyIndependently(key, algorithm, message, signature);
  } catch {
    return false;
  }
}

/** r of a DER ECDSA-Sig-Value (SEQUENCE { INTEGER r, INTEGER s }), as hex without leading zero bytes. */
function ecdsaR(signature: Buffer): string {
  const start = signature[1]! & 0x80 ? 2 + (signature[1]! & 0x7f) : 2;
  expect(signature[0]).toBe(0x30);
  expect(signature[start]).toBe(0x02);
  return signature.subarray(start + 2, start + 2 + signature[start + 1]!).toString('hex').replace(/^(00)+/, '');
}

const configurations: { name: string; env: Record<string, string> }[] = [
  { name: 'inline lane on (the default)', env: {} },
  { name: 'every job on the workers, batches of 4', env: { KMS_INLINE_CRYPTO: 'off', KMS_BATCH_SIZE: '4' } },
];

describe.each(configurations)('a burst of Sign and Verify, $name', ({ env }) => {
  let server: TestServer;
  let kms: KMSClient;
  /** spec -> its two keys */
  const keys = new Map<KeySpec, [SigningKey, SigningKey]>();
  let signed: Signed[] = [];

  beforeAll(async () => {
    server = await startServer({ env });
    // The SDK's default agent holds 50 sockets; a backend's burst is wider than that.
    kms = new KMSClient({
      region: server.region, endpoint: server.url, credentials: server.credentials, maxAttempts: 1,
      requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 400 }) },
    });
    await Promise.all(SPECS.map(async (spec) => {
      const pair = await Promise.all([0, 1].map(async () => signingKey(kms,
        (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!)));
      keys.set(spec, pair as [SigningKey, SigningKey]);
    }));
  }, 180_000);
  afterAll(async () => {
    kms?.destroy();
    await server?.remove();
  });

  it('every concurrent Sign returns the signature of its own key, algorithm and message', async () => {
    const requests: Omit<Signed, 'signature'>[] = [];
    for (const spec of SPECS) {
      const [first, second] = keys.get(spec)!;
      for (const [key, twin] of [[first, second], [second, first]] as const) {
        for (const signatureCase of signatureCases(SIGNING_ALGORITHMS[spec]!)) {
          for (const length of MESSAGE_LENGTHS) {
            const message = randomBytes(length);
            const sent = signingInput(signatureCase.algorithm, signatureCase.messageType, message, () => key.mlDsaPublic!);
            requests.push({ ...signatureCase, key, twin, message, sent });
          }
        }
      }
    }
    signed = await Promise.all(requests.map(async (request) => {
      const out = await kms.send(new SignCommand({
        KeyId: request.key.arn, Message: request.sent, MessageType: request.messageType, SigningAlgorithm: request.algorithm,
      }));
      expect(out).toMatchObject({ KeyId: request.key.arn, SigningAlgorithm: request.algorithm });
      return { ...request, signature: Buffer.from(out.Signature!) };
    }));
    expect(signed.length).toBeGreaterThan(300);
    const wrong = signed
      .filter(({ key, algorithm, message, signature }) => !verifies(key, algorithm, message, signature))
      .map(({ key, algorithm, messageType, message }) => `${key.spec} ${algorithm} ${messageType} ${message.length} B`);
    expect(wrong).toEqual([]);
    // Nor does a signature also pass under the twin key: each was made with the key its request named.
    const underTwin = signed
      .filter(({ twin, algorithm, message, signature }) => verifies(twin, algorithm, message, signature))
      .map(({ key, algorithm, messageType }) => `${key.spec} ${algorithm} ${messageType}`);
    expect(underTwin).toEqual([]);
    // ECDSA's r is x(kG) mod n: a repeated r means a repeated nonce k, which gives away the private key. Every
    // signature of the burst, from either lane and any worker, must have its own.
    const ecdsa = signed.filter(({ algorithm }) => algorithm.startsWith('ECDSA_'));
    expect(ecdsa.length).toBeGreaterThan(40);
    expect(new Set(ecdsa.map(({ signature }) => ecdsaR(signature))).size).toBe(ecdsa.length);
  });

  it.each(['ECC_SECG_P256K1', 'ECC_NIST_P256'] as const)('500 concurrent Sign on one fresh %s key, RAW and DIGEST: all succeed, each verifies over its own message, no r repeats', async (spec) => {
    // A signing backend's hot key, first used by a burst: every request loads the same key at once.
    const key = await signingKey(kms, (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!);
    const requests = Array.from({ length: 500 }, (_, i) => {
      const messageType = i % 2 === 0 ? 'RAW' as const : 'DIGEST' as const;
      const message = randomBytes(1 + (i % 200));
      return { messageType, message, sent: signingInput('ECDSA_SHA_256', messageType, message, () => key.mlDsaPublic!) };
    });
    const answers = await Promise.allSettled(requests.map(({ messageType, sent }) => kms.send(new SignCommand({
      KeyId: key.arn, SigningAlgorithm: 'ECDSA_SHA_256', MessageType: messageType, Message: sent,
    }))));
    expect(answers.flatMap((answer) => (answer.status === 'rejected' ? [(answer.reason as Error).name] : []))).toEqual([]);
    const signatures = answers.map((answer) => Buffer.from((answer as PromiseFulfilledResult<{ Signature?: Uint8Array }>).value.Signature!));
    expect(signatures.filter((signature, i) => !verifies(key, 'ECDSA_SHA_256', requests[i]!.message, signature))).toEqual([]);
    expect(new Set(signatures.map(ecdsaR)).size).toBe(500);
  });

  it('every concurrent Verify answers its own request: valid, tampered, or the twin key\'s', async () => {
    expect(signed.length).toBeGreaterThan(300);
    const verify = (key: SigningKey, { sent, messageType, algorithm }: Signed, signature: Buffer) => outcome(kms.send(new VerifyCommand({
      KeyId: key.arn, Message: sent, MessageType: messageType, SigningAlgorithm: algorithm, Signature: signature,
    })).then((out) => {
      expect(out).toMatchObject({ KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm });
    }));
    const tamper = (signature: Buffer): Buffer => {
      const copy = Buffer.from(signature);
      copy[copy.length >> 1]! ^= 0x01;
      return copy;
    };
    const checks = signed.flatMap((entry) => [
      { entry, expected: 'ok', answer: verify(entry.key, entry, entry.signature) },
      { entry, expected: 'KMSInvalidSignatureException', answer: verify(entry.key, entry, tamper(entry.signature)) },
      { entry, expected: 'KMSInvalidSignatureException', answer: verify(entry.twin, entry, entry.signature) },
    ]);
    const answers = await Promise.all(checks.map((check) => check.answer));
    const wrong = checks
      .map(({ entry, expected }, i) => ({ entry, expected, got: answers[i] }))
      .filter(({ expected, got }) => got !== expected)
      .map(({ entry, expected, got }) => `${entry.key.spec} ${entry.algorithm} ${entry.messageType}: ${got}, expected ${expected}`);
    expect(wrong).toEqual([]);
  });
});
