// JSON strings that are not Unicode text. A \uD800-\uDFFF escape with no partner (a lone surrogate) is valid JSON
// syntax, and JSON.parse keeps it, but no UTF-8 encoding holds it: wherever the value is encoded it becomes U+FFFD
// (an encryption context bound as AAD, a tag or description written to the store, an audit record), so different
// values sent become one value kept. The request body check (pipeline.ts) refuses them, as it refuses bytes that
// are not UTF-8.

/** A \u escape in the D800-DFFF range, anywhere in a JSON text: only these can put a surrogate into a parsed value. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** In a Unicode regular expression a surrogate pair is one code point: \p{Cs} matches only an unpaired half. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether any string of a parsed JSON value (member names included) holds a lone surrogate. `text` is the JSON
 * it was parsed from: without a surrogate escape in it there is nothing to look for, so the walk costs nothing
 * on almost every request. Walked with a stack, not by recursion: the value may be nested 500,000 levels deep.
 */
export function hasLoneSurrogate(text: string, value: unknown): boolean {
  // includes() first: a plain substring search is a twentieth of the regular expression's cost, and most bodies
  // hold no \u escape at all (the SDKs send text as UTF-8).
  if (!text.includes('\\u') || !SURROGATE_ESCAPE.test(text)) return false;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (LONE_SURROGATE.test(next)) return true;
    } else if (Array.isArray(next)) {
      for (const item of next) pending.push(item);
    } else if (typeof next === 'object' && next !== null) {
      for (const [name, item] of Object.entries(next)) {
        if (LONE_SURROGATE.test(name)) return true;
        pending.push(item);
      }
    }
  }
  return false;
}
