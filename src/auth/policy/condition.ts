// Policy `Condition` blocks: parse, validate and compile to a predicate over the request's condition keys.
// Semantics follow IAM: operators AND together, keys within an operator AND together, the values listed for
// one key OR together; negated operators and `...IfExists` are true when the key is absent; `ForAnyValue:`
// needs one request value to match, `ForAllValues:` needs every request value to match (true when absent).
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { KmsError } from '../../protocol/errors.js';
import { compileVariableValues, hasPolicyVariable } from './variables.js';
import { compileArnPattern, compileWildcard, regexLiteral, wildcardSource, type StringMatcher } from './wildcard.js';

/**
 * The condition keys of one request. Keys are lowercase (condition key names are case-insensitive);
 * every value is a list so single- and multi-valued keys share one code path. An absent key and an empty
 * list mean the same thing. `encryptionContext` keeps the request's context with its original case for
 * grant constraints, which compare case-sensitively.
 */
export interface ConditionContext {
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly encryptionContext?: Readonly<Record<string, string>>;
}

export type ConditionPredicate = (context: ConditionContext) => boolean;

type SetQualifier = 'none' | 'any' | 'all';

interface OperatorDefinition {
  /** Builds "does this request value match any of the policy's values" for one condition key. */
  readonly compile: (policyValues: readonly string[], operator: string) => StringMatcher;
  /** Not-operators: the result is the negation of the positive match. */
  readonly negated: boolean;
}

const malformed = (message: string): KmsError => new KmsError('MalformedPolicyDocumentException', message);

const equalsAny = (values: readonly string[]): StringMatcher => {
  if (values.length === 1) { const only = values[0]!; return (value) => value === only; }
  const set = new Set(values);
  return (value) => set.has(value);
};
const equalsAnyIgnoreCase = (values: readonly string[]): StringMatcher => {
  const set = new Set(values.map((value) => value.toLowerCase()));
  return (value) => set.has(value.toLowerCase());
};
const likeAny = (values: readonly string[]): StringMatcher => {
  const matchers = values.map((value) => compileWildcard(value));
  return (value) => matchers.some((matches) => matches(value));
};
const arnLikeAny = (values: readonly string[]): StringMatcher => {
  const matchers = values.map(compileArnPattern);
  return (value) => matchers.some((matches) => matches(value));
};

function parseNumber(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}
function parseDate(text: string): number {
  // IAM accepts ISO 8601 dates and epoch seconds.
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  return Date.parse(text);
}

function ordered(parse: (text: string) => number, compare: (request: number, policy: number) => boolean) {
  return (values: readonly string[], operator: string): StringMatcher => {
    const numbers = values.map((value) => {
      const parsed = parse(value);
      if (Number.isNaN(parsed)) throw malformed(`Policy contains an invalid value '${value}' for condition operator ${operator}.`);
      return parsed;
    });
    return (value) => {
      const request = parse(value);
      return !Number.isNaN(request) && numbers.some((policy) => compare(request, policy));
    };
  };
}

const boolean = (values: readonly string[]): StringMatcher => equalsAnyIgnoreCase(values);

/** IpAddress/NotIpAddress: IPv4 or IPv6 addresses and CIDR ranges (a bare address is its own /32 or /128). */
function ipRanges(values: readonly string[], operator: string): StringMatcher {
  const ranges = new BlockList();
  for (const value of values) {
    const [address = '', bits, ...rest] = value.trim().split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
    if (family === undefined || rest.length > 0 || !/^\d+$/.test(bits ?? '0') || prefix > (family === 'ipv4' ? 32 : 128)) {
      throw malformed(`Policy contains an invalid value '${value}' for condition operator ${operator}.`);
    }
    ranges.addSubnet(address, prefix, family);
  }
  return (value) => {
    const family = isIPv4(value) ? 'ipv4' : isIPv6(value) ? 'ipv6' : undefined;
    return family !== undefined && ranges.check(value, family);
  };
}

const OPERATORS: Readonly<Record<string, OperatorDefinition>> = {
  stringequals: { compile: equalsAny, negated: false },
  stringnotequals: { compile: equalsAny, negated: true },
  stringequalsignorecase: { compile: equalsAnyIgnoreCase, negated: false },
  stringnotequalsignorecase: { compile: equalsAnyIgnoreCase, negated: true },
  stringlike: { compile: likeAny, negated: false },
  stringnotlike: { compile: likeAny, negated: true },
  numericequals: { compile: ordered(parseNumber, (r, p) => r === p), negated: false },
  numericnotequals: { compile: ordered(parseNumber, (r, p) => r === p), negated: true },
  numericlessthan: { compile: ordered(parseNumber, (r, p) => r < p), negated: false },
  numericlessthanequals: { compile: ordered(parseNumber, (r, p) => r <= p), negated: false },
  numericgreaterthan: { compile: ordered(parseNumber, (r, p) => r > p), negated: false },
  numericgreaterthanequals: { compile: ordered(parseNumber, (r, p) => r >= p), negated: false },
  dateequals: { compile: ordered(parseDate, (r, p) => r === p), negated: false },
  datenotequals: { compile: ordered(parseDate, (r, p) => r === p), negated: true },
  datelessthan: { compile: ordered(parseDate, (r, p) => r < p), negated: false },
  datelessthanequals: { compile: ordered(parseDate, (r, p) => r <= p), negated: false },
  dategreaterthan: { compile: ordered(parseDate, (r, p) => r > p), negated: false },
  dategreaterthanequals: { compile: ordered(parseDate, (r, p) => r >= p), negated: false },
  bool: { compile: boolean, negated: false },
  binaryequals: { compile: equalsAny, negated: false },
  ipaddress: { compile: ipRanges, negated: false },
  notipaddress: { compile: ipRanges, negated: true },
  arnequals: { compile: arnLikeAny, negated: false },
  arnlike: { compile: arnLikeAny, negated: false },
  arnnotequals: { compile: arnLikeAny, negated: true },
  arnnotlike: { compile: arnLikeAny, negated: true },
};

/** Single-valued keys that a `ForAllValues:` set operator would turn into "always true" (kms-api.md 8.1). */
const OVERLY_PERMISSIVE_WITH_FOR_ALL_VALUES = /^(kms:encryptioncontext:|aws:requesttag\/)/;

export interface CompileConditionOptions {
  /** Key policies reject ForAllValues on single-valued context keys, as KMS's PutKeyPolicy does. */
  readonly rejectOverlyPermissive: boolean;
  /** `${...}` in values are policy variables (Version 2012-10-17 only); otherwise they are plain text. */
  readonly policyVariables?: boolean;
}

function policyValues(raw: unknown, operator: string, key: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw malformed(`Policy contains an empty value list for condition key ${key} in ${operator}.`);
  return list.map((value) => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw malformed(`Policy contains an invalid value for condition key ${key} in ${operator}: values must be strings, numbers or booleans.`);
  });
}

function compileNull(values: readonly string[], key: string): ConditionPredicate {
  const expectations = values.map((value) => {
    const lower = value.toLowerCase();
    if (lower !== 'true' && lower !== 'false') throw malformed(`Policy contains an invalid value '${value}' for condition operator Null.`);
    return lower === 'true';
  });
  return (context) => {
    const absent = (context.values.get(key)?.length ?? 0) === 0;
    return expectations.some((expectAbsent) => expectAbsent === absent);
  };
}

/** The matcher of values with policy variables, built per request from the values they resolve to. */
function compileVariableMatcher(definition: OperatorDefinition, base: string, values: readonly string[], operator: string):
  (context: ConditionContext) => StringMatcher {
  const never: StringMatcher = () => false;
  if (base === 'stringlike' || base === 'stringnotlike') {
    // Resolved values are RegExp sources: text keeps its wildcards, variable values and ${*} are literal.
    const resolve = compileVariableValues(values, { text: wildcardSource, literal: regexLiteral });
    return (context) => {
      const sources = resolve(context);
      if (sources.length === 0) return never;
      const regex = new RegExp(`^(?:${sources.join('|')})$`, 's');
      return (value) => regex.test(value);
    };
  }
  const resolve = compileVariableValues(values);
  return (context) => {
    const resolved = resolve(context);
    if (resolved.length === 0) return never;
    try {
      return definition.compile(resolved, operator);
    } catch {
      return never; // a variable that resolved to a non-number for a Numeric operator matches nothing
    }
  };
}

function compileKeyTest(definition: OperatorDefinition, qualifier: SetQualifier, ifExists: boolean, key: string,
  staticMatcher: StringMatcher | undefined, matcherFor?: (context: ConditionContext) => StringMatcher): ConditionPredicate {
  const { negated } = definition;
  return (context) => {
    const matches = staticMatcher ?? matcherFor!(context);
    const requestValues = context.values.get(key);
    if (requestValues === undefined || requestValues.length === 0) {
      if (qualifier === 'all') return true;
      if (qualifier === 'any') return ifExists;
      return ifExists || negated;
    }
    switch (qualifier) {
      case 'any': return negated ? requestValues.some((v) => !matches(v)) : requestValues.some(matches);
      case 'all': return negated ? requestValues.every((v) => !matches(v)) : requestValues.every(matches);
      case 'none': {
        const anyMatch = requestValues.some(matches);
        return negated ? !anyMatch : anyMatch;
      }
    }
  };
}

function parseOperator(name: string): { qualifier: SetQualifier; base: string; ifExists: boolean } {
  let rest = name;
  let qualifier: SetQualifier = 'none';
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const prefix = rest.slice(0, colon).toLowerCase();
    if (prefix === 'foranyvalue') qualifier = 'any';
    else if (prefix === 'forallvalues') qualifier = 'all';
    else throw malformed(`Policy contains an invalid condition operator '${name}'.`);
    rest = rest.slice(colon + 1);
  }
  let base = rest.toLowerCase();
  const ifExists = base.endsWith('ifexists') && base !== 'ifexists';
  if (ifExists) base = base.slice(0, -'ifexists'.length);
  return { qualifier, base, ifExists };
}

/** Compiles a statement's `Condition` object; throws MalformedPolicyDocumentException on anything invalid. */
export function compileCondition(block: unknown, options: CompileConditionOptions): ConditionPredicate {
  if (block === null || typeof block !== 'object' || Array.isArray(block)) {
    throw malformed('Policy contains a statement with an invalid Condition: it must be an object of operators.');
  }
  const tests: ConditionPredicate[] = [];
  for (const [operatorName, keys] of Object.entries(block)) {
    const { qualifier, base, ifExists } = parseOperator(operatorName);
    if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
      throw malformed(`Policy contains an invalid Condition: operator ${operatorName} must map condition keys to values.`);
    }
    for (const [keyName, raw] of Object.entries(keys as Record<string, unknown>)) {
      const key = keyName.toLowerCase();
      const values = policyValues(raw, operatorName, keyName);
      if (base === 'null' && !ifExists) {
        tests.push(compileNull(values, key));
        continue;
      }
      const definition = OPERATORS[base];
      if (!definition) throw malformed(`Policy contains an invalid condition operator '${operatorName}'.`);
      if (qualifier === 'all' && options.rejectOverlyPermissive && OVERLY_PERMISSIVE_WITH_FOR_ALL_VALUES.test(key)) {
        throw malformed(`OverlyPermissiveCondition: ForAllValues cannot be used with the single-valued condition key ${keyName}.`);
      }
      if (options.policyVariables === true && values.some(hasPolicyVariable)) {
        tests.push(compileKeyTest(definition, qualifier, ifExists, key, undefined,
          compileVariableMatcher(definition, base, values, operatorName)));
      } else {
        tests.push(compileKeyTest(definition, qualifier, ifExists, key, definition.compile(values, operatorName)));
      }
    }
  }
  if (tests.length === 1) return tests[0]!;
  return (context) => tests.every((test) => test(context));
}

/** Builds a ConditionContext from key/value pairs; keys are lowercased, undefined values dropped. */
export function createConditionContext(entries: Iterable<readonly [string, string | readonly string[] | undefined]>,
  encryptionContext?: Readonly<Record<string, string>>): ConditionContext {
  const values = new Map<string, readonly string[]>();
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    values.set(key.toLowerCase(), typeof value === 'string' ? [value] : value);
  }
  return encryptionContext === undefined ? { values } : { values, encryptionContext };
}
