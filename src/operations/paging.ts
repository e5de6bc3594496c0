// Markers for List* operations: opaque to clients, validated on the way back in (InvalidMarkerException).
import { createHash } from 'node:crypto';
import { KmsError } from '../protocol/errors.js';

const PREFIX = 'kms-engine:';

const invalidMarker = (): KmsError => new KmsError('InvalidMarkerException',
  'The request was rejected because the marker that specifies where pagination should next begin is not valid.');

/**
 * The check a marker carries: a short hash of the list it belongs to (the operation plus whatever selects its
 * items: key, filters) and the position in it. A marker is only good for the NextMarker it came from, so one handed
 * to another list (ListAliases' marker to ListResourceTags, key A's ListGrants marker to key B's) is refused instead
 * of silently skipping items there, and so is one cut short or edited (a position a character shorter would list
 * the last item again), as AWS refuses a marker it did not issue. Hashed so principals in a filter do not travel
 * inside the marker and markers stay short.
 */
const markerCheck = (listing: string, position: string): string =>
  createHash('sha256').update(JSON.stringify([listing, position])).digest('hex').slice(0, 16);

const MARKER_TEXT = new RegExp(`^${PREFIX}([0-9a-f]{16}):(.+)$`, 's');

export const encodeMarker = (listing: string, position: string): string =>
  Buffer.from(`${PREFIX}${markerCheck(listing, position)}:${position}`, 'utf8').toString('base64url');

/** The position a marker names in `listing`, or InvalidMarkerException for one not minted for it as it stands. */
export function decodeMarker(marker: unknown, listing: string): string | undefined {
  if (marker === undefined) return undefined;
  // Base64url decoding skips characters outside the alphabet and a partial last group: only a marker that is
  // exactly the encoding of its text is the one handed out.
  const text = Buffer.from(String(marker), 'base64url').toString('utf8');
  const match = MARKER_TEXT.exec(text);
  if (Buffer.from(text, 'utf8').toString('base64url') !== marker || match === null
    || match[1] !== markerCheck(listing, match[2]!)) throw invalidMarker();
  return match[2]!;
}

/** A position that is a whole number (an index, a store's place), or InvalidMarkerException. */
export function wholePosition(position: string | undefined): number | undefined {
  if (position === undefined) return undefined;
  if (!/^\d{1,15}$/.test(position)) throw invalidMarker();
  return Number(position);
}

/** The Limit a List* call asks for, capped at the operation's documented maximum (see page). */
const pageLimit = (input: Record<string, unknown>, defaultLimit: number, maxLimit: number): number =>
  Math.min((input.Limit as number | undefined) ?? defaultLimit, maxLimit);

/**
 * Where a page the store reads in sort order starts (the sort key of the item the marker names; none for the first
 * page) and how many items it lists. Ask the store for one more than `limit`: see pageOfRead.
 */
export const pageStart = (input: Record<string, unknown>, defaultLimit: number, maxLimit: number, listing: string):
  { after: string | undefined; limit: number } =>
  ({ after: decodeMarker(input.Marker, listing), limit: pageLimit(input, defaultLimit, maxLimit) });

/**
 * The page made of `read`, the items the store read in sort order after pageStart's position, at most `limit` + 1:
 * the extra one only tells that more remain. Like pageAfter's, the marker is the sort key of the last item listed.
 */
export function pageOfRead<T>(read: readonly T[], limit: number, sortKey: (item: T) => string, listing: string):
  { items: T[]; nextMarker?: string; truncated: boolean } {
  const items = read.slice(0, limit);
  const truncated = read.length > limit;
  return { items, truncated, nextMarker: truncated ? encodeMarker(listing, sortKey(items[items.length - 1]!)) : undefined };
}

/**
 * A page of a list whose items have a unique sort key (a tag's key), whose marker is the key of the last item
 * returned: the next page starts after that key wherever it now stands (ListAliases and the grant lists page the
 * same way in the store: pageStart, pageOfRead).
 * An index would skip an item still there when one before it is deleted between two pages (the AWS CLI paging
 * `list-aliases` while another client deletes an alias), and repeat one when an item is added before it.
 * Items are sorted here, by the same comparison the marker is resumed with, whatever order the store returned.
 */
export function pageAfter<T>(items: readonly T[], sortKey: (item: T) => string, input: Record<string, unknown>,
  defaultLimit: number, maxLimit: number, listing: string): { items: T[]; nextMarker?: string; truncated: boolean } {
  const after = decodeMarker(input.Marker, listing);
  const sorted = items.map((item) => ({ item, key: sortKey(item) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const first = after === undefined ? 0 : sorted.findIndex(({ key }) => key > after);
  const start = first === -1 ? sorted.length : first;
  const limit = pageLimit(input, defaultLimit, maxLimit);
  const slice = sorted.slice(start, start + limit);
  const truncated = start + limit < sorted.length;
  return {
    items: slice.map(({ item }) => item),
    truncated,
    nextMarker: truncated ? encodeMarker(listing, slice[slice.length - 1]!.key) : undefined,
  };
}

/**
 * A page of an in-memory list whose marker is the index of the next item, for lists that only grow at their end
 * (a key's rotations; see pageAfter for the others). A Limit above the operation's documented maximum (the model
 * allows up to 1000 everywhere) is capped to it, as KMS pages do: the client gets a truncated page and a marker
 * rather than an error. `listing` names the list (see listingTag).
 */
export function page<T>(items: readonly T[], input: Record<string, unknown>, defaultLimit: number, maxLimit: number, listing: string):
  { items: T[]; nextMarker?: string; truncated: boolean } {
  const start = wholePosition(decodeMarker(input.Marker, listing)) ?? 0;
  const limit = pageLimit(input, defaultLimit, maxLimit);
  const slice = items.slice(start, start + limit);
  const truncated = start + limit < items.length;
  return { items: slice, truncated, nextMarker: truncated ? encodeMarker(listing, String(start + limit)) : undefined };
}
