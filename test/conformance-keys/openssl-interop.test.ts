// The engine against the `openssl` CLI in the direction the other conformance files do not cover: keys that
// OpenSSL generates are imported (BYOK), so OpenSSL holds the private half. Signatures OpenSSL makes must pass
// Verify only when valid (RSA-PSS only with salt length = hash length and MGF1 of the same hash); OAEP
// ciphertext OpenSSL makes must Decrypt, and the engine's must decrypt in OpenSSL; DeriveSharedSecret must
// equal `openssl pkeyutl -derive`; GenerateMac must equal `openssl dgst -mac HMAC` of the imported key
// (kms-api.md sections 5 and 6).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, EncryptCommand, GenerateMacCommand, GetPublicKeyCommand,
  SignCommand, VerifyCommand, VerifyMacCommand,
  type EncryptionAlgorithmSpec, type KMSClient, type KeySpec, type KeyUsageType, type MacAlgorithmSpec, type MessageType,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { SIGNING_ALGORITHMS, failure, importPrivateKey } from './helpers.js';

const execFileAsync = promisify(execFile);

let server: TestServer;
let kms: KMSClient;
let dir: string;
let fileCount = 0;

/** Writes bytes to a fresh file in this file's temp dir and returns its path. */
function tempFile(bytes: Uint8Array | string): string {
  const path = join(dir, `f${fileCount++}`);
  writeFileSync(path, bytes);
  return path;
}

async function openssl(...args: string[]): Promise<Buffer> {
  const { stdout } = await execFileAsync('openssl', args, { encoding: 'buffer', maxBuffer: 1 << 20 });
  return stdout;
}

/** What `openssl` exits with: 0 when it verifies / succeeds. */
async function opensslStatus(...args: string[]): Promise<number> {
  try {
    await openssl(...args);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

const GENPKEY: Record<string, string[]> = {
  RSA_2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ECC_NIST_P256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  ECC_NIST_P384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ECC_NIST_P521: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  ECC_SECG_P256K1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  ECC_NIST_EDWARDS25519: ['-algorithm', 'ED25519'],
};

interface OpensslKey {
  /** PEM private key file (OpenSSL's own). */
  privatePem: string;
  publicPem: string;
  publicDer: Buffer;
  pkcs8: Buffer;
}

async function opensslKey(spec: string): Promise<OpensslKey> {
  const privatePem = tempFile(await openssl('genpkey', ...GENPKEY[spec]!));
  return {
    privatePem,
    publicPem: tempFile(await openssl('pkey', '-in', privatePem, '-pubout')),
    publicDer: await openssl('pkey', '-in', privatePem, '-pubout', '-outform', 'DER'),
    pkcs8: await openssl('pkcs8', '-topk8', '-nocrypt', '-in', privatePem, '-outform', 'DER'),
  };
}

/** An EXTERNAL KMS key holding the OpenSSL key's private half. */
async function importedKey(spec: string, usage: KeyUsageType, key: OpensslKey): Promise<string> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: spec as KeySpec, KeyUsage: usage, Origin: 'EXTERNAL' }));
  await importPrivateKey(kms, KeyMetadata!.Arn!, key.pkcs8);
  return KeyMetadata!.Arn!;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kms-openssl-'));
  server = await startServer();
  kms = server.client();
});
afterAll(async () => {
  await server?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const hashOf = (algorithm: string): string => `sha${algorithm.slice(-3)}`;

async function verifies(KeyId: string, algorithm: string, MessageType: MessageType, Message: Buffer, Signature: Buffer): Promise<string> {
  try {
    const out = await kms.send(new VerifyCommand({ KeyId, SigningAlgorithm: algorithm as SigningAlgorithmSpec, MessageType, Message, Signature }));
    return out.SignatureValid === true ? 'valid' : `SignatureValid ${String(out.SignatureValid)}`;
  } catch (error) {
    return (error as Error).name;
  }
}

describe('Verify of signatures OpenSSL made with an imported key', () => {
  it.each(Object.keys(GENPKEY))('%s: GetPublicKey is OpenSSL\'s SPKI; valid signatures verify as RAW and DIGEST, invalid ones do not', async (spec) => {
    const key = await opensslKey(spec);
    const other = await opensslKey(spec);
    const arn = await importedKey(spec, 'SIGN_VERIFY', key);
    const published = await kms.send(new GetPublicKeyCommand({ KeyId: arn }));
    expect(Buffer.from(published.PublicKey!).equals(key.publicDer)).toBe(true);
    expect(published).toMatchObject({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: SIGNING_ALGORITHMS[spec] });
    expect(await opensslStatus('pkey', '-pubin', '-inform', 'DER', '-in', tempFile(published.PublicKey!), '-noout')).toBe(0);

    // Ed25519ph is not in OpenSSL 3.0; conformance-keys/signatures.test.ts checks it with @noble.
    for (const algorithm of SIGNING_ALGORITHMS[spec]!.filter((a) => a !== 'ED25519_PH_SHA_512')) {
      const message = randomBytes(500);
      const messageFile = tempFile(message);
      if (algorithm === 'ED25519_SHA_512') {
        const signature = await openssl('pkeyutl', '-sign', '-inkey', key.privatePem, '-rawin', '-in', messageFile);
        const foreign = await openssl('pkeyutl', '-sign', '-inkey', other.privatePem, '-rawin', '-in', messageFile);
        expect(await verifies(arn, algorithm, 'RAW', message, signature)).toBe('valid');
        expect(await verifies(arn, algorithm, 'RAW', randomBytes(500), signature)).toBe('KMSInvalidSignatureException');
        expect(await verifies(arn, algorithm, 'RAW', message, foreign)).toBe('KMSInvalidSignatureException');
        continue;
      }
      const hash = hashOf(algorithm);
      const digest = createHash(hash).update(message).digest();
      const pss = algorithm.startsWith('RSASSA_PSS_');
      const pssOptions = (saltLength: string, mgf1 = hash) => (pss
        ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', `rsa_pss_saltlen:${saltLength}`, '-sigopt', `rsa_mgf1_md:${mgf1}`] : []);
      const valid = [
        await openssl('dgst', `-${hash}`, '-sign', key.privatePem, ...pssOptions('digest'), messageFile),
        // `pkeyutl -sign` over the digest: OpenSSL's equivalent of MessageType DIGEST.
        await openssl('pkeyutl', '-sign', '-inkey', key.privatePem, '-in', tempFile(digest), '-pkeyopt', `digest:${hash}`,
          ...(pss ? ['-pkeyopt', 'rsa_padding_mode:pss', '-pkeyopt', 'rsa_pss_saltlen:digest'] : spec.startsWith('RSA_') ? ['-pkeyopt', 'rsa_padding_mode:pkcs1'] : [])),
      ];
      for (const signature of valid) {
        expect(await verifies(arn, algorithm, 'RAW', message, signature), `${algorithm} RAW`).toBe('valid');
        expect(await verifies(arn, algorithm, 'DIGEST', digest, signature), `${algorithm} DIGEST`).toBe('valid');
        const tampered = Buffer.from(signature);
        tampered[tampered.length >> 1]! ^= 0x04;
        expect(await verifies(arn, algorithm, 'RAW', message, tampered)).toBe('KMSInvalidSignatureException');
        expect(await verifies(arn, algorithm, 'DIGEST', createHash(hash).update(randomBytes(9)).digest(), signature))
          .toBe('KMSInvalidSignatureException');
      }
      const invalid = [await openssl('dgst', `-${hash}`, '-sign', other.privatePem, ...pssOptions('digest'), messageFile)];
      if (pss) {
        // kms-api.md section 5: PSS salt length = hash length, MGF1 with the same hash. Anything else is not
        // the algorithm's signature, even though it is a valid RSA-PSS signature in general.
        invalid.push(
          await openssl('dgst', `-${hash}`, '-sign', key.privatePem, ...pssOptions('max'), messageFile),
          await openssl('dgst', `-${hash}`, '-sign', key.privatePem, ...pssOptions('0'), messageFile),
          await openssl('dgst', `-${hash}`, '-sign', key.privatePem, ...pssOptions('digest', 'sha1'), messageFile),
        );
      }
      if (algorithm.startsWith('RSASSA_PKCS1_')) {
        // PSS where PKCS#1 v1.5 is asked for, and the reverse below, are other algorithms.
        invalid.push(await openssl('dgst', `-${hash}`, '-sign', key.privatePem, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest', messageFile));
      }
      if (pss) invalid.push(await openssl('dgst', `-${hash}`, '-sign', key.privatePem, messageFile));
      for (const signature of invalid) {
        expect(await verifies(arn, algorithm, 'RAW', message, signature), `${algorithm} RAW`).toBe('KMSInvalidSignatureException');
        expect(await verifies(arn, algorithm, 'DIGEST', digest, signature), `${algorithm} DIGEST`).toBe('KMSInvalidSignatureException');
      }
    }
  });
});

describe('imported EC private keys in the other forms PKCS#8 allows', () => {
  // An ECPrivateKey may carry its public point compressed, and its curve as explicit parameters (what
  // `openssl ec -conv_form compressed` and `-param_enc explicit` write). KMS derives the public key from the
  // private key, and every ECC key KMS generates publishes a named-curve SPKI with the uncompressed point, the
  // form secp256k1 tooling reads an address from (the last 64 bytes); an imported key must publish the same.
  it.each(['ECC_SECG_P256K1', 'ECC_NIST_P256'])('%s: compressed point or explicit curve parameters: GetPublicKey is the named-curve SPKI with the uncompressed point; signatures verify with it', async (spec) => {
    const key = await opensslKey(spec);
    for (const form of [['-conv_form', 'compressed'], ['-param_enc', 'explicit']]) {
      const pem = tempFile(await openssl('ec', '-in', key.privatePem, ...form));
      const pkcs8 = await openssl('pkcs8', '-topk8', '-nocrypt', '-in', pem, '-outform', 'DER');
      const arn = await importedKey(spec, 'SIGN_VERIFY', { ...key, pkcs8 });
      const published = Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: arn }))).PublicKey!);
      expect(published.toString('hex'), form.join(' ')).toBe(key.publicDer.toString('hex'));
      for (const MessageType of ['RAW', 'DIGEST'] as const) {
        const message = randomBytes(100);
        const sent = MessageType === 'RAW' ? message : createHash('sha256').update(message).digest();
        const { Signature } = await kms.send(new SignCommand({ KeyId: arn, SigningAlgorithm: 'ECDSA_SHA_256', MessageType, Message: sent }));
        expect(await opensslStatus('dgst', '-sha256', '-verify', tempFile(`-----BEGIN PUBLIC KEY-----\n${published.toString('base64')}\n-----END PUBLIC KEY-----\n`),
          '-signature', tempFile(Signature!), tempFile(message)), `${form.join(' ')} ${MessageType}`).toBe(0);
        expect(await verifies(arn, 'ECDSA_SHA_256', MessageType, sent, Buffer.from(Signature!))).toBe('valid');
      }
    }
  });

  it('a key on a curve no KMS key spec has (P-224, brainpoolP256r1) is IncorrectKeyMaterialException, never a server error', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' }));
    for (const curve of ['P-224', 'brainpoolP256r1']) {
      const privatePem = tempFile(await openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`));
      const pkcs8 = await openssl('pkcs8', '-topk8', '-nocrypt', '-in', privatePem, '-outform', 'DER');
      expect(await failure(importPrivateKey(kms, KeyMetadata!.Arn!, pkcs8)), curve).toMatchObject({ name: 'IncorrectKeyMaterialException', status: 400 });
    }
    expect(server.output()).not.toContain('internal error');
  });
});

describe('imported Ed25519 keys as OneAsymmetricKey v2 (RFC 5958, with the public key)', () => {
  /** OpenSSL's v1 PrivateKeyInfo (48 bytes) made v2: version 1 and the public key appended as [1] IMPLICIT BIT STRING. */
  const v2Of = (v1: Buffer, publicDer: Buffer): Buffer => {
    expect(v1.subarray(0, 5).toString('hex')).toBe('302e020100');
    const body = Buffer.concat([Buffer.from('020101', 'hex'), v1.subarray(5), Buffer.from('812100', 'hex'), publicDer.subarray(-32)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  };

  it('import as the key itself (what Java\'s BouncyCastle writes); a public key of another key is IncorrectKeyMaterialException', async () => {
    const key = await opensslKey('ECC_NIST_EDWARDS25519');
    const other = await opensslKey('ECC_NIST_EDWARDS25519');
    const arn = await importedKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY', { ...key, pkcs8: v2Of(key.pkcs8, key.publicDer) });
    expect(Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: arn }))).PublicKey!).equals(key.publicDer)).toBe(true);
    const message = randomBytes(100);
    const { Signature } = await kms.send(new SignCommand({ KeyId: arn, SigningAlgorithm: 'ED25519_SHA_512', Message: message }));
    expect(await opensslStatus('pkeyutl', '-verify', '-pubin', '-inkey', key.publicPem, '-rawin', '-in', tempFile(message), '-sigfile', tempFile(Signature!))).toBe(0);

    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' }));
    expect(await failure(importPrivateKey(kms, KeyMetadata!.Arn!, v2Of(key.pkcs8, other.publicDer))))
      .toMatchObject({ name: 'IncorrectKeyMaterialException', status: 400 });
  });
});

describe('RSAES-OAEP against openssl pkeyutl', () => {
  const OAEP: [EncryptionAlgorithmSpec, string, number][] = [['RSAES_OAEP_SHA_1', 'sha1', 214], ['RSAES_OAEP_SHA_256', 'sha256', 190]];

  it('RSA_2048: OpenSSL ciphertext (OAEP, MGF1 same hash, empty label) decrypts, engine ciphertext opens in OpenSSL, other paddings do not', async () => {
    const key = await opensslKey('RSA_2048');
    const arn = await importedKey('RSA_2048', 'ENCRYPT_DECRYPT', key);
    const decrypt = (algorithm: EncryptionAlgorithmSpec, ciphertext: Uint8Array) =>
      kms.send(new DecryptCommand({ KeyId: arn, EncryptionAlgorithm: algorithm, CiphertextBlob: ciphertext }));
    for (const [algorithm, hash, max] of OAEP) {
      const oaep = (mgf1 = hash) => ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${hash}`, '-pkeyopt', `rsa_mgf1_md:${mgf1}`];
      for (const length of [1, max]) {
        const plaintext = randomBytes(length);
        const ciphertext = await openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', key.publicPem, '-in', tempFile(plaintext), ...oaep());
        expect(ciphertext).toHaveLength(256);
        expect(Buffer.from((await decrypt(algorithm, ciphertext)).Plaintext!).equals(plaintext), `${algorithm} ${length}`).toBe(true);

        const encrypted = await kms.send(new EncryptCommand({ KeyId: arn, EncryptionAlgorithm: algorithm, Plaintext: plaintext }));
        const opened = await openssl('pkeyutl', '-decrypt', '-inkey', key.privatePem, '-in', tempFile(encrypted.CiphertextBlob!), ...oaep());
        expect(opened.equals(plaintext)).toBe(true);
      }
      expect(await failure(kms.send(new EncryptCommand({ KeyId: arn, EncryptionAlgorithm: algorithm, Plaintext: randomBytes(max + 1) }))))
        .toMatchObject({ name: 'ValidationException', status: 400 });

      const plaintext = tempFile(randomBytes(20));
      const wrongPaddings = [
        await openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', key.publicPem, '-in', plaintext, ...oaep(), '-pkeyopt', 'rsa_oaep_label:0102'),
        await openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', key.publicPem, '-in', plaintext, ...oaep(hash === 'sha1' ? 'sha256' : 'sha1')),
        await openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', key.publicPem, '-in', plaintext, '-pkeyopt', 'rsa_padding_mode:pkcs1'),
      ];
      for (const ciphertext of wrongPaddings) {
        expect(await failure(decrypt(algorithm, ciphertext))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
      }
    }
  });
});

describe('DeriveSharedSecret against openssl pkeyutl -derive', () => {
  it.each([['ECC_NIST_P256', 32], ['ECC_NIST_P384', 48], ['ECC_NIST_P521', 66]] as const)(
    '%s: equals what OpenSSL derives on either side; the PublicKey must be exactly one DER SPKI', async (spec, secretBytes) => {
      const key = await opensslKey(spec);
      const peer = await opensslKey(spec);
      const arn = await importedKey(spec, 'KEY_AGREEMENT', key);
      const published = await kms.send(new GetPublicKeyCommand({ KeyId: arn }));
      expect(published).toMatchObject({ KeySpec: spec, KeyUsage: 'KEY_AGREEMENT', KeyAgreementAlgorithms: ['ECDH'] });
      expect(Buffer.from(published.PublicKey!).equals(key.publicDer)).toBe(true);

      const out = await kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicDer }));
      expect(out).toMatchObject({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'EXTERNAL' });
      const peerSide = await openssl('pkeyutl', '-derive', '-inkey', peer.privatePem, '-peerkey', key.publicPem);
      const kmsSide = await openssl('pkeyutl', '-derive', '-inkey', key.privatePem, '-peerkey', peer.publicPem);
      expect(out.SharedSecret).toHaveLength(secretBytes);
      expect(Buffer.from(out.SharedSecret!).equals(peerSide)).toBe(true);
      expect(peerSide.equals(kmsSide)).toBe(true);

      // Bytes after the SubjectPublicKeyInfo make the PublicKey something other than a DER SPKI (OpenSSL's
      // decoder alone would ignore them and derive from the SPKI in front).
      for (const trailing of [Buffer.from([0]), randomBytes(16)]) {
        expect(await failure(kms.send(new DeriveSharedSecretCommand({
          KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: Buffer.concat([peer.publicDer, trailing]),
        })))).toEqual({ name: 'ValidationException', status: 400, message: 'The public key must be a DER-encoded X.509 SubjectPublicKeyInfo.' });
      }
      expect(await failure(kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.pkcs8 }))))
        .toMatchObject({ name: 'ValidationException', status: 400 });
    });
});

describe('GenerateMac against openssl dgst -mac HMAC', () => {
  it.each([['HMAC_224', 28], ['HMAC_256', 32], ['HMAC_384', 48], ['HMAC_512', 64]] as const)(
    '%s: the MAC of imported material is OpenSSL\'s, the hash length long; VerifyMac takes exactly that MAC', async (spec, length) => {
      const material = randomBytes(length);
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' }));
      const arn = KeyMetadata!.Arn!;
      await importPrivateKey(kms, arn, material);
      const algorithm = `HMAC_SHA_${spec.slice(5)}` as MacAlgorithmSpec;
      for (const message of [randomBytes(1), randomBytes(4096)]) {
        const out = await kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: message }));
        const expected = await openssl('dgst', `-sha${spec.slice(5)}`, '-mac', 'HMAC', '-macopt', `hexkey:${material.toString('hex')}`, '-binary', tempFile(message));
        expect(out).toMatchObject({ KeyId: arn, MacAlgorithm: algorithm });
        expect(out.Mac).toHaveLength(length);
        expect(Buffer.from(out.Mac!).equals(expected)).toBe(true);
        expect(await kms.send(new VerifyMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: message, Mac: expected })))
          .toMatchObject({ MacValid: true });
        for (const wrong of [Buffer.concat([expected, Buffer.from([0])]), expected.subarray(0, 16)]) {
          expect(await failure(kms.send(new VerifyMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: message, Mac: wrong }))))
            .toMatchObject({ name: 'KMSInvalidMacException', status: 400 });
        }
      }
    });
});
