// The AWS CLI v2 in shell pipelines, as data pipelines script it: raw files in with fileb://, blobs out with
// `--query X --output text | base64 -d`, and OpenSSL checking what the engine made (signatures over DIGEST
// messages, data key pairs) with nothing but the CLI's output. clients.test.ts and keys.test.ts cover key
// creation, RAW signing and paging; this file covers the byte-level round trips those pipelines depend on.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsKms, shell } from '../support/aws-cli.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let dir: string;
let keyId: string;

beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'kms-cli-pipeline-'));
  keyId = (await awsKms(server, 'create-key', '--description', 'pipeline')).KeyMetadata.KeyId as string;
});
afterAll(async () => {
  await server?.remove();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const sh = (script: string) => shell(server, dir, script);
const file = (name: string) => readFileSync(join(dir, name));

describe('envelope encryption with the CLI', () => {
  it('encrypt --plaintext fileb:// then decrypt --query Plaintext --output text | base64 -d gives the bytes back', async () => {
    // Every byte value, including NUL and newlines, which a text round trip would mangle.
    const secret = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(3000)]);
    writeFileSync(join(dir, 'secret.bin'), secret);
    await sh(`aws kms encrypt --endpoint-url "$KMS_URL" --key-id ${keyId} --plaintext fileb://secret.bin --encryption-context stage=prod,table=users \
      --query CiphertextBlob --output text | base64 -d > secret.enc`);
    const opened = await sh(`aws kms decrypt --endpoint-url "$KMS_URL" --ciphertext-blob fileb://secret.enc --encryption-context table=users,stage=prod \
      --query Plaintext --output text | base64 -d`);
    expect(opened.equals(secret)).toBe(true);
    // Without the context the engine refuses, and the pipeline's `set -e` stops on the CLI's exit status.
    const refused = await sh('aws kms decrypt --endpoint-url "$KMS_URL" --ciphertext-blob fileb://secret.enc --query Plaintext --output text')
      .then(() => undefined, (error: { code: number; stderr: Buffer }) => error);
    expect(refused?.code).toBe(254);
    expect(refused?.stderr.toString().trim()).toBe('An error occurred (InvalidCiphertextException) when calling the Decrypt operation: '
      + 'The ciphertext is invalid, or the encryption context does not match.');
  });

  it('generate-data-key --number-of-bytes: the plaintext has that length and its ciphertext decrypts to it', async () => {
    const generated = await awsKms(server, 'generate-data-key', '--key-id', keyId, '--number-of-bytes', '64', '--encryption-context', 'job=etl');
    expect(generated.KeyId).toBe(`arn:aws:kms:${server.region}:${server.accountId}:key/${keyId}`);
    const plaintext = Buffer.from(generated.Plaintext as string, 'base64');
    expect(plaintext).toHaveLength(64);
    writeFileSync(join(dir, 'datakey.enc'), Buffer.from(generated.CiphertextBlob as string, 'base64'));
    const opened = await sh('aws kms decrypt --endpoint-url "$KMS_URL" --ciphertext-blob fileb://datakey.enc --encryption-context job=etl --query Plaintext --output text | base64 -d');
    expect(opened.equals(plaintext)).toBe(true);
  });

  it('re-encrypt moves a ciphertext to another key and context; only the new pair opens it', async () => {
    const target = (await awsKms(server, 'create-key')).KeyMetadata.Arn as string;
    writeFileSync(join(dir, 'row.bin'), randomBytes(200));
    await sh(`aws kms encrypt --endpoint-url "$KMS_URL" --key-id ${keyId} --plaintext fileb://row.bin --encryption-context v=1 --query CiphertextBlob --output text | base64 -d > row.v1`);
    const moved = await awsKms(server, 're-encrypt', '--ciphertext-blob', `fileb://${join(dir, 'row.v1')}`, '--source-encryption-context', 'v=1',
      '--destination-key-id', target, '--destination-encryption-context', 'v=2');
    expect(moved).toMatchObject({
      SourceKeyId: `arn:aws:kms:${server.region}:${server.accountId}:key/${keyId}`, KeyId: target,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    writeFileSync(join(dir, 'row.v2'), Buffer.from(moved.CiphertextBlob as string, 'base64'));
    const opened = await awsKms(server, 'decrypt', '--ciphertext-blob', `fileb://${join(dir, 'row.v2')}`, '--encryption-context', 'v=2');
    expect(opened.KeyId).toBe(target);
    expect(Buffer.from(opened.Plaintext as string, 'base64').equals(file('row.bin'))).toBe(true);
    await expect(awsKms(server, 'decrypt', '--ciphertext-blob', `fileb://${join(dir, 'row.v2')}`, '--encryption-context', 'v=1'))
      .rejects.toMatchObject({ code: 254, stderr: expect.stringContaining('(InvalidCiphertextException)') });
  });
});

describe('signatures over a DIGEST, checked by OpenSSL against get-public-key', () => {
  // [key spec, signing algorithm, openssl digest, extra `openssl dgst` verify options]
  const cases = [
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384', ''],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256', ''],
    ['RSA_3072', 'RSASSA_PSS_SHA_512', 'sha512', '-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', 'sha256', ''],
  ] as const;
  for (const [keySpec, algorithm, digest, options] of cases) {
    it(`${keySpec} ${algorithm}: sign --message-type DIGEST of a file's hash; openssl verifies it over the file, verify agrees`, async () => {
      const signing = (await awsKms(server, 'create-key', '--key-spec', keySpec, '--key-usage', 'SIGN_VERIFY')).KeyMetadata.KeyId as string;
      const name = `${keySpec}-${algorithm}`;
      // Larger than Sign's 4096-byte RAW limit: the reason pipelines sign a digest.
      writeFileSync(join(dir, `${name}.data`), randomBytes(1024 * 1024));
      await sh(`openssl dgst -${digest} -binary ${name}.data > ${name}.digest
        aws kms sign --endpoint-url "$KMS_URL" --key-id ${signing} --message fileb://${name}.digest --message-type DIGEST \
          --signing-algorithm ${algorithm} --query Signature --output text | base64 -d > ${name}.sig
        aws kms get-public-key --endpoint-url "$KMS_URL" --key-id ${signing} --query PublicKey --output text | base64 -d > ${name}.spki
        openssl pkey -pubin -inform DER -in ${name}.spki -out ${name}.pem`);
      const verified = await sh(`openssl dgst -${digest} -verify ${name}.pem ${options} -signature ${name}.sig ${name}.data`);
      expect(verified.toString().trim()).toBe('Verified OK');
      // The same signature fails over other data: OpenSSL is really checking.
      writeFileSync(join(dir, `${name}.other`), randomBytes(64));
      await expect(sh(`openssl dgst -${digest} -verify ${name}.pem ${options} -signature ${name}.sig ${name}.other`)).rejects.toThrow();

      const checked = await awsKms(server, 'verify', '--key-id', signing, '--message', `fileb://${join(dir, `${name}.digest`)}`,
        '--message-type', 'DIGEST', '--signature', `fileb://${join(dir, `${name}.sig`)}`, '--signing-algorithm', algorithm);
      expect(checked).toMatchObject({ SignatureValid: true, SigningAlgorithm: algorithm });
    });
  }

  it('a digest of the wrong length is refused with AWS\'s ValidationException', async () => {
    const signing = (await awsKms(server, 'create-key', '--key-spec', 'ECC_NIST_P256', '--key-usage', 'SIGN_VERIFY')).KeyMetadata.KeyId as string;
    writeFileSync(join(dir, 'short.digest'), randomBytes(31));
    await expect(awsKms(server, 'sign', '--key-id', signing, '--message', `fileb://${join(dir, 'short.digest')}`, '--message-type', 'DIGEST',
      '--signing-algorithm', 'ECDSA_SHA_256')).rejects.toMatchObject({
      code: 254,
      stderr: expect.stringContaining('(ValidationException) when calling the Sign operation: Digest is invalid length for algorithm ECDSA_SHA_256.'),
    });
  });
});

describe('generate-data-key-pair: keys OpenSSL can use', () => {
  for (const spec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P521', 'ECC_NIST_EDWARDS25519'] as const) {
    it(`${spec}: the PKCS#8 private key signs, its SPKI public key verifies, and the wrapped copy decrypts to it`, async () => {
      const pair = await awsKms(server, 'generate-data-key-pair', '--key-id', keyId, '--key-pair-spec', spec, '--encryption-context', `pair=${spec}`);
      expect(pair).toMatchObject({ KeyPairSpec: spec, KeyId: `arn:aws:kms:${server.region}:${server.accountId}:key/${keyId}` });
      writeFileSync(join(dir, `${spec}.key.der`), Buffer.from(pair.PrivateKeyPlaintext as string, 'base64'));
      writeFileSync(join(dir, `${spec}.pub.der`), Buffer.from(pair.PublicKey as string, 'base64'));
      writeFileSync(join(dir, `${spec}.key.enc`), Buffer.from(pair.PrivateKeyCiphertextBlob as string, 'base64'));
      writeFileSync(join(dir, `${spec}.msg`), randomBytes(500));
      // OpenSSL reads the private key, derives the same public key, signs; the published public key verifies.
      const derived = await sh(`openssl pkey -inform DER -in ${spec}.key.der -pubout -outform DER`);
      expect(derived.equals(file(`${spec}.pub.der`))).toBe(true);
      const digest = spec === 'ECC_NIST_EDWARDS25519' ? '' : '-digest sha256';
      await sh(`openssl pkeyutl -sign -inkey ${spec}.key.der -keyform DER -rawin ${digest} -in ${spec}.msg -out ${spec}.sig
        openssl pkey -pubin -inform DER -in ${spec}.pub.der -out ${spec}.pub.pem`);
      const verified = await sh(`openssl pkeyutl -verify -pubin -inkey ${spec}.pub.pem -rawin ${digest} -in ${spec}.msg -sigfile ${spec}.sig`);
      expect(verified.toString()).toContain('Signature Verified Successfully');
      const unwrapped = await sh(`aws kms decrypt --endpoint-url "$KMS_URL" --ciphertext-blob fileb://${spec}.key.enc --encryption-context pair=${spec} \
        --query Plaintext --output text | base64 -d`);
      expect(unwrapped.equals(file(`${spec}.key.der`))).toBe(true);
    });
  }

  it('RSA_2048: a message OpenSSL encrypts to the public key with OAEP, the private key decrypts', async () => {
    const pair = await awsKms(server, 'generate-data-key-pair', '--key-id', keyId, '--key-pair-spec', 'RSA_2048');
    writeFileSync(join(dir, 'oaep.key.der'), Buffer.from(pair.PrivateKeyPlaintext as string, 'base64'));
    writeFileSync(join(dir, 'oaep.pub.der'), Buffer.from(pair.PublicKey as string, 'base64'));
    writeFileSync(join(dir, 'oaep.msg'), randomBytes(100));
    const opened = await sh(`openssl pkey -pubin -inform DER -in oaep.pub.der -out oaep.pub.pem
      openssl pkeyutl -encrypt -pubin -inkey oaep.pub.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -in oaep.msg -out oaep.enc
      openssl pkeyutl -decrypt -inkey oaep.key.der -keyform DER -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -in oaep.enc`);
    expect(opened.equals(file('oaep.msg'))).toBe(true);
  });
});
