// The hash chain shared by the writer (log.ts) and the checker (verify.ts), so both compute exactly the same
// bytes. Each log line is `{...record, "chain": {"seq", "prev", "hash"}}` where
//   hash = SHA-256( bytes(prev) || UTF-8( canonicalJson(line without chain.hash) ) )
// and prev is the previous line's hash (GENESIS_HASH for seq 1). Hashing a canonical form (sorted keys, JSON
// semantics) rather than the line's bytes means any tool may re-serialize a record and it still verifies,
// while any change to any value breaks it.

import { createHash } from 'node:crypto';

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
      const keys = Object.keys(value).sort();
      let out = '{';
      for (const key of keys) {
        const item = serialize((value as Record<string, unknown>)[key]);
        if (item !== undefined) out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${item}`;
      }
      return `${out}}`;
    }
    default: return undefined; // undefined, function, symbol: absent, as in JSON
  }
}

/** The hash of a line whose chain member is `{seq, prev, node?}` (everything but the hash itself). */
export function linkHash(prev: string, lineWithoutHash: unknown): string {
  return createHash('sha256').update(Buffer.from(prev, 'hex')).update(canonicalJson(lineWithoutHash), 'utf8').digest('hex');
}

/** Serializes one record as a chained log line (with its trailing newline) and returns the new link. */
export function chainLine(record: object, seq: number, prev: string, node: string | undefined): { line: string; link: ChainLink } {
  const unhashed = { seq, prev, ...(node !== undefined ? { node } : {}) };
  const hash = linkHash(prev, { ...record, chain: unhashed });
  const link: ChainLink = { ...unhashed, hash };
  return { line: `${JSON.stringify({ ...record, chain: link })}\n`, link };
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
  const { hash: _claimed, ...unhashed } = line.chain as Record<string, unknown>;
  return linkHash(link.prev, { ...line, chain: unhashed });
}
