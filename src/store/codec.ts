// JSON documents for stored records: Buffers travel as base64 strings. Shared by every store backend.
import type { KeyRecord } from './types.js';

export function keyToDocument(record: KeyRecord): string {
  return JSON.stringify({
    ...record,
    publicKey: record.publicKey?.toString('base64'),
    materials: record.materials.map((m) => ({ ...m, wrapped: m.wrapped.toString('base64') })),
  });
}

export function keyFromDocument(text: string): KeyRecord {
  const doc = JSON.parse(text) as Omit<KeyRecord, 'publicKey' | 'materials'> & {
    publicKey?: string;
    materials: Array<Omit<KeyRecord['materials'][number], 'wrapped'> & { wrapped: string }>;
  };
  return {
    ...doc,
    publicKey: doc.publicKey === undefined ? undefined : Buffer.from(doc.publicKey, 'base64'),
    materials: doc.materials.map((m) => ({ ...m, wrapped: Buffer.from(m.wrapped, 'base64') })),
  };
}
