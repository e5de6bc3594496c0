// Single-thread ops/s of each primitive the worker runs, node:crypto against @noble where both can do the job,
// and the DIGEST-path choices made in workers/primitives (see the comments in ecdsa.ts, rsa.ts, ml-dsa.ts).
//   npx tsc && node dist/bench/micro/primitives.js            (BENCH_MS=2000 for longer runs)
// ML-DSA (@noble/post-quantum against the compiled liboqs the engine signs with) is in ml-dsa.ts beside this.
import { createHash, createHmac, createPrivateKey, generateKeyPairSync, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519, ed25519ph } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { KeySpec } from '../../src/contract/key-specs.js';
import { generateMaterial, loadKey, rsaDecrypt, rsaEncrypt, sign, verify } from '../../workers/primitives/index.js';

const DURATION_MS = Number(process.env['BENCH_MS'] ?? 1000);
const rows: { name: string; opsPerSecond: number }[] = [];

function bench(name: string, run: () => unknown): void {
  for (let i = 0; i < 5; i++) run(); // warm-up
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while ((elapsed = performance.now() - start) < DURATION_MS) {
    run();
    count++;
  }
  const opsPerSecond = Math.round(count / (elapsed / 1000));
  rows.push({ name, opsPerSecond });
  console.log(`${name.padEnd(58)} ${String(opsPerSecond).padStart(8)} ops/s`);
}

const message = randomBytes(100);
const jwkBytes = (value: string | undefined): Uint8Array => Buffer.from(value!, 'base64url');

async function ecdsa(): Promise<void> {
  const curves = [
    ['ECC_NIST_P256', 'prime256v1', 'sha256', 'ECDSA_SHA_256', p256],
    ['ECC_NIST_P384', 'secp384r1', 'sha384', 'ECDSA_SHA_384', p384],
    ['ECC_NIST_P521', 'secp521r1', 'sha512', 'ECDSA_SHA_512', p521],
    ['ECC_SECG_P256K1', 'secp256k1', 'sha256', 'ECDSA_SHA_256', secp256k1],
  ] as const;
  for (const [spec, curve, hash, alg, noble] of curves) {
    const { material } = await generateMaterial(spec);
    const key = loadKey(spec, material);
    const d = jwkBytes(createPrivateKey({ key: material, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }).d);
    const digest = createHash(hash).update(message).digest();
    const sig = sign(key, alg, 'DIGEST', digest);
    bench(`${curve} ECDSA sign RAW      node:crypto`, () => sign(key, alg, 'RAW', message));
    bench(`${curve} ECDSA sign DIGEST   engine (OpenSSL nonce + BigInt)`, () => sign(key, alg, 'DIGEST', digest));
    bench(`${curve} ECDSA sign DIGEST   @noble prehash:false`, () => noble.sign(digest, d, { prehash: false, lowS: false, format: 'der' }));
    bench(`${curve} ECDSA verify RAW    node:crypto`, () => verify(key, alg, 'RAW', message, sig));
    bench(`${curve} ECDSA verify DIGEST @noble (engine path)`, () => verify(key, alg, 'DIGEST', digest, sig));
  }
}

async function eddsa(): Promise<void> {
  const spec: KeySpec = 'ECC_NIST_EDWARDS25519';
  const key = loadKey(spec, (await generateMaterial(spec)).material);
  const pair = generateKeyPairSync('ed25519');
  const seed = jwkBytes(pair.privateKey.export({ format: 'jwk' }).d);
  const digest = createHash('sha512').update(message).digest();
  bench('Ed25519 sign            node:crypto', () => nodeSign(null, message, pair.privateKey));
  bench('Ed25519 sign            @noble', () => ed25519.sign(message, seed));
  const sig = nodeSign(null, message, pair.privateKey);
  bench('Ed25519 verify          node:crypto', () => nodeVerify(null, message, pair.publicKey, sig));
  bench('Ed25519ph sign DIGEST   @noble (engine path; not in node)', () => sign(key, 'ED25519_PH_SHA_512', 'DIGEST', digest));
  const phSig = ed25519ph.sign(digest, seed);
  bench('Ed25519ph verify DIGEST @noble', () => ed25519ph.verify(phSig, digest, ed25519ph.getPublicKey(seed)));
}

async function rsa(): Promise<void> {
  const key = loadKey('RSA_2048', (await generateMaterial('RSA_2048')).material);
  const digest = createHash('sha256').update(message).digest();
  bench('RSA-2048 PKCS1v1.5 sign RAW    crypto.sign', () => sign(key, 'RSASSA_PKCS1_V1_5_SHA_256', 'RAW', message));
  bench('RSA-2048 PKCS1v1.5 sign DIGEST privateEncrypt(DigestInfo)', () => sign(key, 'RSASSA_PKCS1_V1_5_SHA_256', 'DIGEST', digest));
  bench('RSA-2048 PSS sign RAW          crypto.sign', () => sign(key, 'RSASSA_PSS_SHA_256', 'RAW', message));
  bench('RSA-2048 PSS sign DIGEST       JS EMSA-PSS + RSA_NO_PADDING', () => sign(key, 'RSASSA_PSS_SHA_256', 'DIGEST', digest));
  const pss = sign(key, 'RSASSA_PSS_SHA_256', 'RAW', message);
  bench('RSA-2048 PSS verify RAW        crypto.verify', () => verify(key, 'RSASSA_PSS_SHA_256', 'RAW', message, pss));
  bench('RSA-2048 PSS verify DIGEST     publicDecrypt + JS EMSA-PSS', () => verify(key, 'RSASSA_PSS_SHA_256', 'DIGEST', digest, pss));
  const ciphertext = rsaEncrypt(key, 'RSAES_OAEP_SHA_256', randomBytes(32));
  bench('RSA-2048 OAEP-SHA256 encrypt 32 B', () => rsaEncrypt(key, 'RSAES_OAEP_SHA_256', message.subarray(0, 32)));
  bench('RSA-2048 OAEP-SHA256 decrypt', () => rsaDecrypt(key, 'RSAES_OAEP_SHA_256', ciphertext));
}

function hmac(): void {
  const secret = randomBytes(32);
  const kib = randomBytes(1024);
  bench('HMAC-SHA256 1 KiB         node:crypto', () => createHmac('sha256', secret).update(kib).digest());
}


console.log(`node ${process.version}, ${DURATION_MS} ms per row, single thread`);
await ecdsa();
await eddsa();
await rsa();
hmac();
