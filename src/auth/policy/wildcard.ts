// IAM wildcard patterns (`*` any run of characters, `?` exactly one), compiled once per policy so evaluation
// is a plain comparison or one RegExp test. Used for actions, resources, StringLike and ArnLike.

export type StringMatcher = (value: string) => boolean;

const matchAll: StringMatcher = () => true;

const hasWildcard = (pattern: string): boolean => pattern.includes('*') || pattern.includes('?');

/** A character-for-character RegExp source for `text` (no wildcards). */
export const regexLiteral = (text: string): string => text.replace(/[.*?+^${}()|[\]\\/-]/g, '\\$&');

/** The RegExp source of a wildcard pattern (unanchored). */
export function wildcardSource(pattern: string): string {
  let source = '';
  for (const char of pattern) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += regexLiteral(char);
  }
  return source;
}

/** One pattern; `ignoreCase` for action names, which IAM compares case-insensitively. */
export function compileWildcard(pattern: string, ignoreCase = false): StringMatcher {
  if (pattern === '*') return matchAll;
  if (!hasWildcard(pattern)) {
    if (!ignoreCase) return (value) => value === pattern;
    const lower = pattern.toLowerCase();
    return (value) => value.length === lower.length && value.toLowerCase() === lower;
  }
  const regex = new RegExp(`^${wildcardSource(pattern)}$`, ignoreCase ? 'is' : 's');
  return (value) => regex.test(value);
}

/** Any of several patterns. A list holding `*` collapses to "match everything". */
export function compileWildcardList(patterns: readonly string[], ignoreCase = false): StringMatcher {
  if (patterns.includes('*')) return matchAll;
  const matchers = patterns.map((pattern) => compileWildcard(pattern, ignoreCase));
  if (matchers.length === 1) return matchers[0]!;
  return (value) => matchers.some((matches) => matches(value));
}

const ARN_SECTIONS = 6;

/** Splits `arn:partition:service:region:account:resource` (the resource may itself hold colons). */
export function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < ARN_SECTIONS || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, ARN_SECTIONS - 1), parts.slice(ARN_SECTIONS - 1).join(':')];
}

/**
 * ArnEquals/ArnLike: both compare section by section with wildcards allowed inside each section, so a
 * `*` in the region never swallows the account (IAM semantics). A value that is not an ARN never matches.
 */
export function compileArnPattern(pattern: string): StringMatcher {
  if (pattern === '*') return matchAll;
  const sections = splitArn(pattern);
  if (!sections) return () => false;
  const matchers = sections.map((section) => compileWildcard(section));
  return (value) => {
    const valueSections = splitArn(value);
    return valueSections !== undefined && matchers.every((matches, i) => matches(valueSections[i]!));
  };
}
