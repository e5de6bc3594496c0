// Markers for List* operations: opaque to clients, validated on the way back in (InvalidMarkerException).
import { KmsError } from '../protocol/errors.js';

export const encodeMarker = (position: string): string => Buffer.from(`kms-engine:${position}`, 'utf8').toString('base64url');

export function decodeMarker(marker: unknown): string | undefined {
  if (marker === undefined) return undefined;
  const text = Buffer.from(String(marker), 'base64url').toString('utf8');
  if (!text.startsWith('kms-engine:')) throw new KmsError('InvalidMarkerException', 'The request was rejected because the marker that specifies where pagination should next begin is not valid.');
  return text.slice('kms-engine:'.length);
}

/**
 * A page of an in-memory list whose marker is the index of the next item. A Limit above the operation's
 * documented maximum (the model allows up to 1000 everywhere) is capped to it, as KMS pages do: the client
 * gets a truncated page and a marker rather than an error.
 */
export function page<T>(items: readonly T[], input: Record<string, unknown>, defaultLimit: number, maxLimit: number):
  { items: T[]; nextMarker?: string; truncated: boolean } {
  const start = Number(decodeMarker(input.Marker) ?? '0');
  if (!Number.isInteger(start) || start < 0) throw new KmsError('InvalidMarkerException', 'The marker is not valid.');
  const limit = Math.min((input.Limit as number | undefined) ?? defaultLimit, maxLimit);
  const slice = items.slice(start, start + limit);
  const truncated = start + limit < items.length;
  return { items: slice, truncated, nextMarker: truncated ? encodeMarker(String(start + limit)) : undefined };
}
