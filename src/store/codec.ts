// JSON documents for stored records: Buffers travel as base64 strings. Shared by every store backend.
import type { KeyRecord } from './types.js';

// Buffer.from first, in case a record ever holds plain Uint8Arrays (see copyKeyRecord in types.ts): their
// toString('base64') would quietly write "1,2,3" instead of base64.
const base64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function keyToDocument(record: KeyRecord): string {
  return JSON.stringify({
    ...record,
    publicKey: record.publicKey === undefined ? undefined : base64(record.publicKey),
    materials: record.materials.map((m) => ({ ...m, wrapped: m.wrapped === undefined ? undefined : base64(m.wrapped) })),
  });
}

export function keyFromDocument(text: string): KeyRecord {
  const doc = JSON.parse(text) as Omit<KeyRecord, 'publicKey' | 'materials'> & {
    publicKey?: string;
    materials: Array<Omit<KeyRecord['materials'][number], 'wrapped'> & { wrapped?: string }>;
  };
  return {
    ...doc,
    publicKey: doc.publicKey === undefined ? undefined : Buffer.from(doc.publicKey, 'base64'),
    materials: doc.materials.map((m) => (m.wrapped === undefined ? { ...m, wrapped: undefined } : { ...m, wrapped: Buffer.from(m.wrapped, 'base64') })),
  };
}
