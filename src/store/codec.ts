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

/**
 * Stored bytes back from their document. Releases before cbd4208 (December 2026) wrote a record that had been
 * changed after its creation (rotated, tagged, disabled, ...) with its Uint8Arrays' own toString: the bytes as
 * decimals joined by commas ("131,76,22"). No base64 text holds a comma, and every wrapped blob and public key
 * is many bytes long, so that form is told apart safely and read as the bytes it lists; the next write of the
 * record stores base64.
 */
const LEGACY_DECIMAL_BYTES = /^\d{1,3}(?:,\d{1,3})+$/;
function bytesFromDocument(text: string): Buffer {
  if (!LEGACY_DECIMAL_BYTES.test(text)) return Buffer.from(text, 'base64');
  const values = text.split(',').map(Number);
  if (values.some((value) => value > 255)) throw new Error('stored key record holds a byte list with a value above 255');
  return Buffer.from(values);
}

export function keyFromDocument(text: string): KeyRecord {
  const doc = JSON.parse(text) as Omit<KeyRecord, 'publicKey' | 'materials'> & {
    publicKey?: string;
    materials: Array<Omit<KeyRecord['materials'][number], 'wrapped'> & { wrapped?: string }>;
  };
  return {
    ...doc,
    publicKey: doc.publicKey === undefined ? undefined : bytesFromDocument(doc.publicKey),
    materials: doc.materials.map((m) => (m.wrapped === undefined ? { ...m, wrapped: undefined } : { ...m, wrapped: bytesFromDocument(m.wrapped) })),
  };
}
