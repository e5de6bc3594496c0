// Canonical bytes of an encryption context, bound into AES-GCM as associated data. Pairs are sorted by key
// (UTF-16 code unit order, JavaScript's default sort; fixed, since every stored ciphertext depends on it) and
// length-prefixed as UTF-8, so order never matters and no two different contexts of well-formed Unicode text
// serialize alike (UTF-8 writes any lone surrogate as U+FFFD). Imported by both threads: pure, no I/O.

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
