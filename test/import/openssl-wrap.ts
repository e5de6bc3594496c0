// Wrapping key material the way a BYOK user does, with the `openssl` CLI, against the PublicKey that
// GetParametersForImport returned: the engine must open what standard tooling produces.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type WrappingAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';

const openssl = (args: string[]): Buffer => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

function inTempDir<T>(work: (path: (name: string) => string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'kms-import-'));
  try {
    return work((name) => join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl pkeyutl` RSA-OAEP with MGF1 on the same hash and no label, as KMS expects. */
function oaepEncrypt(path: (name: string) => string, publicKeyDer: Uint8Array, plaintext: Uint8Array, hash: 'sha1' | 'sha256'): Buffer {
  writeFileSync(path('wrapping.der'), publicKeyDer);
  writeFileSync(path('plain.bin'), plaintext);
  openssl(['pkeyutl', '-encrypt', '-pubin', '-keyform', 'DER', '-inkey', path('wrapping.der'),
    '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${hash}`, '-pkeyopt', `rsa_mgf1_md:${hash}`,
    '-in', path('plain.bin'), '-out', path('oaep.bin')]);
  return readFileSync(path('oaep.bin'));
}

/** EncryptedKeyMaterial for ImportKeyMaterial, made by openssl only. */
export function wrapWithOpenssl(publicKeyDer: Uint8Array, algorithm: WrappingAlgorithm, material: Uint8Array): Buffer {
  const hash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  return inTempDir((path) => {
    if (algorithm.startsWith('RSAES_OAEP_')) return oaepEncrypt(path, publicKeyDer, material, hash);
    // RSA_AES_KEY_WRAP: RSA-OAEP(ephemeral AES-256 key) || AES key wrap with padding (RFC 5649) of the material.
    const aesKey = randomBytes(32);
    writeFileSync(path('material.bin'), material);
    openssl(['enc', '-id-aes256-wrap-pad', '-K', aesKey.toString('hex'), '-iv', 'A65959A6',
      '-in', path('material.bin'), '-out', path('kwp.bin')]);
    return Buffer.concat([oaepEncrypt(path, publicKeyDer, aesKey, hash), readFileSync(path('kwp.bin'))]);
  });
}

/** A private key as DER PKCS#8 from `openssl genpkey`, with its DER SPKI public key. */
export function opensslKeyPair(genpkeyArgs: string[]): { pkcs8: Buffer; spki: Buffer } {
  return inTempDir((path) => {
    // genpkey's DER is the type's own format (SEC1, PKCS#1) in OpenSSL 3.0; pkcs8 -topk8 makes PrivateKeyInfo.
    openssl(['genpkey', ...genpkeyArgs, '-out', path('key.pem')]);
    openssl(['pkcs8', '-topk8', '-nocrypt', '-in', path('key.pem'), '-outform', 'DER', '-out', path('key.der')]);
    openssl(['pkey', '-in', path('key.pem'), '-pubout', '-outform', 'DER', '-out', path('pub.der')]);
    return { pkcs8: readFileSync(path('key.der')), spki: readFileSync(path('pub.der')) };
  });
}
