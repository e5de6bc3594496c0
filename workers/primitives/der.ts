// The little ASN.1 DER this engine needs and node:crypto does not do for it: ECDSA signatures built from
// (r, s) on the DIGEST path, strict parsing of client signatures, and the post-quantum PKCS#8 / SPKI wrappers
// (OpenSSL 3.0 has no ML-DSA). Strict DER only: definite minimal lengths, minimal INTEGERs, no trailing bytes.

export const TAG = { INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, OID: 0x06, SEQUENCE: 0x30 } as const;

export class DerError extends Error {}

export interface Tlv {
  readonly tag: number;
  readonly value: Buffer;
  /** Offset just past this element in the buffer it was read from. */
  readonly end: number;
}

/** Reads one element at `offset`; throws DerError on anything that is not minimal, definite-length DER. */
export function readTlv(der: Uint8Array, offset = 0): Tlv {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (offset + 2 > buf.length) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError('indefinite or oversized length');
    if (start + count > buf.length) throw new DerError('truncated length');
    if (buf[start] === 0) throw new DerError('non-minimal length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[start + i]!;
    if (length < 0x80) throw new DerError('non-minimal length');
    start += count;
  }
  const end = start + length;
  if (end > buf.length) throw new DerError('truncated value');
  return { tag, value: buf.subarray(start, end), end };
}

/** Reads exactly one element that fills `der` and has the expected tag. */
export function readOnly(der: Uint8Array, tag: number): Buffer {
  const tlv = readTlv(der);
  if (tlv.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}`);
  if (tlv.end !== der.length) throw new DerError('trailing bytes');
  return tlv.value;
}

/**
 * Whether `der` is exactly one SEQUENCE, nothing after it. OpenSSL's DER decoders stop at the end of the
 * structure and ignore what follows, so a key handed to them is checked with this first: trailing bytes would
 * otherwise pass as part of the key.
 */
export function isWholeSequence(der: Uint8Array): boolean {
  try {
    readOnly(der, TAG.SEQUENCE);
    return true;
  } catch (error) {
    if (error instanceof DerError) return false;
    throw error;
  }
}

/** The children of a constructed value, in order. */
export function readChildren(value: Uint8Array): Tlv[] {
  const children: Tlv[] = [];
  for (let offset = 0; offset < value.length;) {
    const child = readTlv(value, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}

export function encodeTlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const value = Buffer.concat(parts);
  const n = value.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), value]);
}

/** A non-negative INTEGER in minimal two's complement form. */
export function encodeUnsignedInteger(value: bigint): Buffer {
  if (value < 0n) throw new DerError('negative integer');
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return encodeTlv(TAG.INTEGER, bytes);
}

/** Parses a minimal, positive INTEGER value (the bytes inside the TLV). */
export function decodeUnsignedInteger(value: Uint8Array): bigint {
  if (value.length === 0) throw new DerError('empty integer');
  if (value[0]! & 0x80) throw new DerError('negative integer');
  if (value.length > 1 && value[0] === 0 && !(value[1]! & 0x80)) throw new DerError('non-minimal integer');
  return BigInt(`0x${Buffer.from(value).toString('hex')}`);
}

export function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => BigInt(arc));
  const body: number[] = [];
  const pushBase128 = (arc: bigint): void => {
    const digits = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) digits.unshift(Number(rest & 0x7fn) | 0x80);
    body.push(...digits);
  };
  pushBase128(arcs[0]! * 40n + arcs[1]!);
  arcs.slice(2).forEach(pushBase128);
  return encodeTlv(TAG.OID, Buffer.from(body));
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 section 2.2.3). */
export function encodeEcdsaSignature(r: bigint, s: bigint): Buffer {
  return encodeTlv(TAG.SEQUENCE, encodeUnsignedInteger(r), encodeUnsignedInteger(s));
}

/** Strict inverse of encodeEcdsaSignature; throws DerError on any malformed or non-canonical encoding. */
export function decodeEcdsaSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const children = readChildren(readOnly(der, TAG.SEQUENCE));
  if (children.length !== 2 || children.some((c) => c.tag !== TAG.INTEGER)) throw new DerError('expected two INTEGERs');
  return { r: decodeUnsignedInteger(children[0]!.value), s: decodeUnsignedInteger(children[1]!.value) };
}
