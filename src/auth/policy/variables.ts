// IAM policy variables in condition values (kms-api.md 8.3: `kms:EncryptionContext:<key>` "supports IAM policy
// variables in the value"), e.g. `"kms:EncryptionContext:user": "${aws:username}"`. A variable names a condition
// key of the request and is replaced by its value at evaluation time. Following IAM: variables exist only in
// policies of Version 2012-10-17; `${*}`, `${?}` and `${$}` stand for the literal characters; `${key, 'default'}`
// gives a value for an absent key; a value whose variable has no value (absent or multi-valued) matches nothing.
import type { ConditionContext } from './condition.js';

/** One piece of a policy value: text as written (wildcards live), a variable, or a literal character. */
type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'variable'; readonly key: string; readonly fallback?: string }
  | { readonly kind: 'literal'; readonly text: string };

const VARIABLE = /\$\{([^}]*)\}/g;
const LITERALS: Readonly<Record<string, string>> = { '*': '*', '?': '?', $: '$' };
const WITH_DEFAULT = /^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$/;

export const hasPolicyVariable = (value: string): boolean => value.includes('${');

function parseValue(value: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of value.matchAll(VARIABLE)) {
    if (match.index > last) parts.push({ kind: 'text', text: value.slice(last, match.index) });
    const body = match[1]!;
    const literal = LITERALS[body];
    if (literal !== undefined) {
      parts.push({ kind: 'literal', text: literal });
    } else {
      const withDefault = WITH_DEFAULT.exec(body);
      parts.push(withDefault
        ? { kind: 'variable', key: withDefault[1]!.toLowerCase(), fallback: withDefault[2]! }
        : { kind: 'variable', key: body.trim().toLowerCase() });
    }
    last = match.index + match[0].length;
  }
  if (last < value.length) parts.push({ kind: 'text', text: value.slice(last) });
  return parts;
}

/** How a resolved value is written for the operator: `literal` escapes text that must not act as a wildcard. */
export interface ValueWriter {
  readonly text: (text: string) => string;
  readonly literal: (text: string) => string;
}

const PLAIN: ValueWriter = { text: (text) => text, literal: (text) => text };

/**
 * Compiles policy values that may hold variables into a resolver: per request, the values with every variable
 * replaced (written through `writer`), leaving out those with a variable the request has no single value for.
 */
export function compileVariableValues(values: readonly string[], writer: ValueWriter = PLAIN):
  (context: ConditionContext) => string[] {
  const parsed = values.map(parseValue);
  return (context) => {
    const resolved: string[] = [];
    for (const parts of parsed) {
      let value = '';
      let complete = true;
      for (const part of parts) {
        if (part.kind === 'text') { value += writer.text(part.text); continue; }
        if (part.kind === 'literal') { value += writer.literal(part.text); continue; }
        const requestValues = context.values.get(part.key);
        const single = requestValues?.length === 1 ? requestValues[0] : undefined;
        const replacement = single ?? (requestValues === undefined || requestValues.length === 0 ? part.fallback : undefined);
        if (replacement === undefined) { complete = false; break; }
        value += writer.literal(replacement);
      }
      if (complete) resolved.push(value);
    }
    return resolved;
  };
}
