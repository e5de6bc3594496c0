// The hash chain shared by the writer (log.ts) and the checker (verify.ts), so both compute exactly the same
// bytes. Each log line is one JSON object: the record's members plus `"chain": {"seq", "prev", "hash"}`, with
//   hash = SHA-256( bytes(prev) || UTF-8( canonicalJson(chain without hash) ) || UTF-8( canonicalJson(record) ) )
// where record is the line without its chain member, and prev is the previous line's hash (GENESIS_HASH for
// seq 1). Hashing a canonical form (sorted keys, JSON semantics) rather than the line's bytes means any tool
// may re-serialize a line and it still verifies, while any change to any value breaks it. The writer emits
// the canonical form itself, chain first, so each record is serialized once.

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

/** The link hash of a record (without chain) whose chain member, without its hash, is `unhashed`. */
function hashOf(prev: string, unhashedChain: string, canonicalRecord: string): string {
  return createHash('sha256').update(Buffer.from(prev, 'hex')).update(unhashedChain, 'utf8').update(canonicalRecord, 'utf8').digest('hex');
}

/** Serializes one record as a chained log line (with its trailing newline) and returns the new link. */
export function chainLine(record: object, seq: number, prev: string, node: string | undefined): { line: string; link: ChainLink } {
  if ('chain' in record) throw new TypeError('an audit record cannot carry its own chain member');
  const body = canonicalJson(record);
  const unhashed = { seq, prev, ...(node !== undefined ? { node } : {}) };
  const unhashedJson = canonicalJson(unhashed);
  const hash = hashOf(prev, unhashedJson, body);
  const link: ChainLink = { ...unhashed, hash };
  const chainJson = `{"hash":"${hash}",${unhashedJson.slice(1)}`; // still canonical: "hash" sorts first
  return { line: `{"chain":${chainJson}${body === '{}' ? '' : `,${body.slice(1, -1)}`}}\n`, link };
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
  const { chain, ...record } = line;
  const { hash: _claimed, ...unhashed } = chain as Record<string, unknown>;
  return hashOf(link.prev, canonicalJson(unhashed), canonicalJson(record));
}
