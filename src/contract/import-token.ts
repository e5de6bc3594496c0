// The ImportToken GetParametersForImport hands out and ImportKeyMaterial takes back (kms-api.md section 6).
// Stateless: the token carries its own wrapping private key, sealed under the root key by a worker, so nothing
// is stored between the two calls and a token outlives a restart. Layout:
//   magic "KIT1" (4) | keyId (36, ASCII) | wrapping key spec (1) | wrapping algorithm (1) | validTo (8, float64
//   epoch seconds) | nonce (16) | sealed wrapping private key (root-key wrap format, rest)
// Everything before the sealed key is the header. The worker seals the private key with the header as its
// binding (the root key's associated data), so a token whose key id, algorithm or expiry was edited, or whose
// sealed part was moved to another header, fails to open: InvalidImportTokenException.
// Imported by both threads: pure functions, no I/O.

export const WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
export type WrappingKeySpec = (typeof WRAPPING_KEY_SPECS)[number];

export const WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256',
] as const;
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];

export interface ImportTokenHeader {
  keyId: string;
  wrappingKeySpec: WrappingKeySpec;
  wrappingAlgorithm: WrappingAlgorithm;
  /** Epoch seconds: ParametersValidTo. */
  validTo: number;
  nonce: Uint8Array;
}

export interface DecodedImportToken {
  header: ImportTokenHeader;
  /** What the sealed private key is bound to (the root key's materialId slot): the header, in hex. */
  binding: string;
  sealedPrivateKey: Uint8Array;
}

const MAGIC = Buffer.from('KIT1', 'ascii');
const KEY_ID_BYTES = 36;
export const IMPORT_TOKEN_NONCE_BYTES = 16;
const HEADER_BYTES = MAGIC.length + KEY_ID_BYTES + 1 + 1 + 8 + IMPORT_TOKEN_NONCE_BYTES;
/** Root-key wrap overhead (iv 12 + tag 16): a token shorter than header + this cannot hold a key. */
const MIN_SEALED_BYTES = 29;

function encodeHeader(header: ImportTokenHeader): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES);
  let at = MAGIC.copy(bytes, 0);
  at += bytes.write(header.keyId, at, KEY_ID_BYTES, 'ascii');
  bytes[at++] = WRAPPING_KEY_SPECS.indexOf(header.wrappingKeySpec);
  bytes[at++] = WRAPPING_ALGORITHMS.indexOf(header.wrappingAlgorithm);
  at = bytes.writeDoubleBE(header.validTo, at);
  Buffer.from(header.nonce).copy(bytes, at);
  return bytes;
}

/** The binding the worker seals the private key under, for a header about to be issued. */
export const importTokenBinding = (header: ImportTokenHeader): string => `import-token/v1/${encodeHeader(header).toString('hex')}`;

export function encodeImportToken(header: ImportTokenHeader, sealedPrivateKey: Uint8Array): Buffer {
  return Buffer.concat([encodeHeader(header), sealedPrivateKey]);
}

/** Parses a token's structure; null when it is not one. Authenticity is the worker's check, on opening it. */
export function decodeImportToken(token: Uint8Array): DecodedImportToken | null {
  const bytes = Buffer.from(token.buffer, token.byteOffset, token.length);
  if (bytes.length < HEADER_BYTES + MIN_SEALED_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  let at = MAGIC.length;
  const keyId = bytes.toString('ascii', at, at + KEY_ID_BYTES);
  at += KEY_ID_BYTES;
  const wrappingKeySpec = WRAPPING_KEY_SPECS[bytes[at++]!];
  const wrappingAlgorithm = WRAPPING_ALGORITHMS[bytes[at++]!];
  const validTo = bytes.readDoubleBE(at);
  at += 8;
  if (wrappingKeySpec === undefined || wrappingAlgorithm === undefined || !Number.isFinite(validTo)) return null;
  const header: ImportTokenHeader = {
    keyId, wrappingKeySpec, wrappingAlgorithm, validTo, nonce: bytes.subarray(at, at + IMPORT_TOKEN_NONCE_BYTES),
  };
  return {
    header,
    binding: `import-token/v1/${bytes.subarray(0, HEADER_BYTES).toString('hex')}`,
    sealedPrivateKey: bytes.subarray(HEADER_BYTES),
  };
}
