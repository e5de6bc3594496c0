// The hash chain shared by the writer (log.ts) and the checker (verify.ts), so both compute exactly the same
// bytes. Each log line is one JSON object: the record's members plus `"chain": {"seq", "prev", "hash"}`, with
//   hash = SHA-256( bytes(prev) || UTF-8( canonicalJson(chain without hash) ) || UTF-8( canonicalJson(record) ) )
// where record is the line without its chain member, and prev is the previous line's hash (GENESIS_HASH for
// seq 1). Hashing a canonical form (sorted keys, JSON semantics) rather than the line's bytes means any tool
// may re-serialize a line and it still verifies, while any change to any value breaks it. The writer emits
// the canonical form itself, chain first, so each record is serialized once.
//
// Serializing is most of a line's cost. A record whose builder wrote every object's keys in sorted order
// (record.ts, a SortedRecord) is already in canonical order, so JSON.stringify, native and about twice as fast
// as canonicalJson, produces the canonical form (or the builder's own serializer, which knows the record's
// shape); any other record goes through canonicalJson.

import { hash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);
const HASH_PATTERN = /^[0-9a-f]{64}$/;

export interface ChainLink {
  seq: number;
  prev: string;
  hash: string;
  /** The engine node that wrote the line, when configured. */
  node?: string;
}

/**
 * JSON.stringify with object keys sorted at every depth. Mirrors JSON.stringify's rules (toJSON, undefined and
 * functions dropped from objects and turned into null in arrays, non-finite numbers as null) so that
 * canonicalJson(x) === canonicalJson(JSON.parse(JSON.stringify(x))): the writer and a reader of the line agree.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value) ?? 'null';
}

// String concatenation rather than map/join: this runs once per audit record on the main thread.
function serialize(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string': return JSON.stringify(value);
    case 'number': return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean': return value ? 'true' : 'false';
    case 'bigint': throw new TypeError('audit records cannot hold a BigInt');
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += `${i === 0 ? '' : ','}${serialize(value[i]) ?? 'null'}`;
        return `${out}]`;
      }
      const keys = Object.keys(value);
      if (!isSorted(keys)) keys.sort();
      let out = '{';
      for (const key of keys) {
        const item = serialize((value as Record<string, unknown>)[key]);
        if (item !== undefined) out += `${out.length === 1 ? '' : ','}${quotedKey(key)}:${item}`;
      }
      return `${out}}`;
    }
    default: return undefined; // undefined, function, symbol: absent, as in JSON
  }
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/** Record member names repeat in every line: quote each once. Bounded, as map keys come from clients. */
const quotedKeys = new Map<string, string>();
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < 4096) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/**
 * Base class of records built with their keys in sorted order at every depth (no array-index keys either, which
 * JavaScript enumerates first whatever the insertion order) and holding only JSON data: their canonical JSON
 * needs no sorting. A class rather than a WeakSet of such records: registering each record in a WeakSet cost a
 * fifth of building it, an instanceof test costs nothing, and a copy (spread, structuredClone) is a plain object
 * again, so it is not trusted. A record must not be changed once built.
 */
export abstract class SortedRecord {
  /** Exactly canonicalJson(this) (JSON.stringify(this) does that for such a record; a subclass may be faster). */
  toCanonicalJson(): string {
    return JSON.stringify(this);
  }
}

/** The canonical JSON of a record, without sorting anything when its builder vouched for its key order. */
const canonicalRecordJson = (record: object): string =>
  record instanceof SortedRecord ? record.toCanonicalJson() : canonicalJson(record);

/**
 * Reused for the bytes of each hash a reader recomputes (recomputeHash): prev || chain || record in one buffer
 * and one crypto.hash call. Records larger than it get a buffer of their own.
 */
const hashScratch = Buffer.allocUnsafeSlow(16 * 1024);

/** The link hash of a record (without chain) whose chain member, without its hash, is `unhashed`. */
function hashOf(prev: string, unhashedChain: string, canonicalRecord: string): string {
  // Worst case sizes: hex gives half its length in bytes, a UTF-16 code unit at most 3 UTF-8 bytes.
  const room = Math.ceil(prev.length / 2) + (unhashedChain.length + canonicalRecord.length) * 3;
  const buffer = room <= hashScratch.length ? hashScratch : Buffer.allocUnsafe(room);
  // Hex decoding stops at the first invalid pair, as Buffer.from(prev, 'hex') does.
  let length = buffer.write(prev, 0, 'hex');
  length += buffer.write(unhashedChain, length, 'utf8');
  length += buffer.write(canonicalRecord, length, 'utf8');
  return hash('sha256', buffer.subarray(0, length), 'hex');
}

/** canonicalJson of a chain member without its hash: keys node, prev, seq (written directly, it is per line). */
const unhashedChainJson = (seq: number, prev: string, node: string | undefined): string =>
  `{${node !== undefined ? `"node":${JSON.stringify(node)},` : ''}"prev":${JSON.stringify(prev)},"seq":${canonicalJson(seq)}}`;

/** A growable byte buffer in which the log assembles a batch of lines; reused from one batch to the next. */
export class LineBuffer {
  bytes: Buffer;
  length = 0;

  constructor(capacity = 64 * 1024) {
    this.bytes = Buffer.allocUnsafeSlow(capacity);
  }

  /** Makes room for `extra` more bytes after those written. */
  reserve(extra: number): void {
    if (this.bytes.length - this.length >= extra) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.length + extra));
    this.bytes.copy(bigger, 0, 0, this.length);
    this.bytes = bigger;
  }
}

// Where a line's parts go (byte offsets from the start of the line):
//   {"chain":{"hash":"<64 hex>",  <- LINK_PREFIX, the digest and '",': bytes 0-83
//   "node":...,"prev":"...","seq":N}  <- the unhashed chain member without its '{': from byte 84
//   ,<the record's members>}\n      <- the canonical record with its '{' turned into ','
// The hash's input, prev (32 bytes) || unhashed chain member || canonical record, is first written to bytes
// 51 onwards: then it ends where the line's record ends, the record is encoded to UTF-8 once, in its place, and
// hashed there; the prefix and digest then overwrite prev and the chain member's '{', and the record's '{'
// becomes ','. No line string, no join, no second encoding of the record.
const LINK_PREFIX = '{"chain":{"hash":"';
const DIGEST_AT = LINK_PREFIX.length; // 18
const UNHASHED_AT = DIGEST_AT + 64 + 1; // 83: the chain member's '{', overwritten by the ',' after '"'
const PREV_AT = UNHASHED_AT - 32; // 51
const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

/** Appends one record to `out` as a chained log line (with its trailing newline) and returns the new link. */
export function appendChainedLine(out: LineBuffer, record: object, seq: number, prev: string, node: string | undefined): ChainLink {
  if ('chain' in record) throw new TypeError('an audit record cannot carry its own chain member');
  if (!HASH_PATTERN.test(prev)) throw new TypeError('chain.prev is not a SHA-256 hex digest');
  const body = canonicalRecordJson(record);
  const unhashedJson = unhashedChainJson(seq, prev, node);
  // Worst case: a UTF-16 code unit takes at most 3 UTF-8 bytes; one more for the newline.
  out.reserve(UNHASHED_AT + (unhashedJson.length + body.length) * 3 + 1);
  const bytes = out.bytes;
  const start = out.length;
  bytes.write(prev, start + PREV_AT, 'hex');
  const bodyAt = start + UNHASHED_AT + bytes.write(unhashedJson, start + UNHASHED_AT, 'utf8');
  let end = bodyAt + bytes.write(body, bodyAt, 'utf8');
  const digest = hash('sha256', bytes.subarray(start + PREV_AT, end), 'hex');
  bytes.write(LINK_PREFIX, start, 'latin1');
  bytes.write(digest, start + DIGEST_AT, 'latin1');
  bytes[start + UNHASHED_AT - 1] = QUOTE;
  bytes[start + UNHASHED_AT] = COMMA;
  if (end - bodyAt === 2) {
    end = bodyAt + 1; // an empty record ('{}'): the line is the chain member alone
    bytes[bodyAt] = CLOSE_BRACE;
  } else {
    bytes[bodyAt] = COMMA;
  }
  bytes[end++] = NEWLINE;
  out.length = end;
  return node !== undefined ? { seq, prev, node, hash: digest } : { seq, prev, hash: digest };
}

/** One record as a chained log line (with its trailing newline) and the new link: appendChainedLine as a string. */
export function chainLine(record: object, seq: number, prev: string, node: string | undefined): { line: string; link: ChainLink } {
  const out = new LineBuffer(4 * 1024);
  const link = appendChainedLine(out, record, seq, prev, node);
  return { line: out.bytes.toString('utf8', 0, out.length), link };
}

/** Why a parsed line is not a well-formed chained record, or its link. */
export function readLink(line: unknown): ChainLink | string {
  if (line === null || typeof line !== 'object' || Array.isArray(line)) return 'line is not a JSON object';
  const chain = (line as { chain?: unknown }).chain;
  if (chain === null || typeof chain !== 'object') return 'record has no chain member';
  const { seq, prev, hash, node } = chain as Record<string, unknown>;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return 'chain.seq is not a positive integer';
  if (typeof prev !== 'string' || !HASH_PATTERN.test(prev)) return 'chain.prev is not a SHA-256 hex digest';
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) return 'chain.hash is not a SHA-256 hex digest';
  if (node !== undefined && typeof node !== 'string') return 'chain.node is not a string';
  return { seq: seq as number, prev, hash, ...(node !== undefined ? { node: node as string } : {}) };
}

/**
 * Recomputes a parsed line's hash from its content, including every member of its chain object except the
 * hash it claims (an added chain member is an edit too).
 */
export function recomputeHash(line: Record<string, unknown>, link: ChainLink): string {
  return recomputeLink(line, link).hash;
}

/**
 * recomputeHash, and the text appendChainedLine writes for the line's content (chain first, then the record, both
 * canonical): a line read back as exactly that text cannot hold anything JSON readers would read two ways.
 */
export function recomputeLink(line: Record<string, unknown>, link: ChainLink): { hash: string; canonicalLine: string } {
  const { chain, ...record } = line;
  const { hash: _claimed, ...unhashed } = chain as Record<string, unknown>;
  const canonicalRecord = canonicalJson(record);
  const hash = hashOf(link.prev, canonicalJson(unhashed), canonicalRecord);
  const canonicalLine = `{"chain":${canonicalJson(chain)}${canonicalRecord === '{}' ? '}' : `,${canonicalRecord.slice(1)}`}`;
  return { hash, canonicalLine };
}
