// Canonical bytes of an encryption context, bound into AES-GCM as associated data. Pairs are sorted by key
// (code point order) and length-prefixed, so no two different contexts serialize alike and order never matters.
// Imported by both threads: pure, no I/O.

export type EncryptionContext = Readonly<Record<string, string>>;

const EMPTY = Buffer.alloc(0);

export function canonicalContext(context: EncryptionContext | undefined): Buffer {
  if (context === undefined) return EMPTY;
  const keys = Object.keys(context);
  if (keys.length === 0) return EMPTY;
  keys.sort();
  const parts: Buffer[] = [];
  for (const key of keys) {
    const k = Buffer.from(key, 'utf8');
    const v = Buffer.from(context[key]!, 'utf8');
    const lengths = Buffer.allocUnsafe(8);
    lengths.writeUInt32BE(k.length, 0);
    lengths.writeUInt32BE(v.length, 4);
    parts.push(lengths, k, v);
  }
  return Buffer.concat(parts);
}
