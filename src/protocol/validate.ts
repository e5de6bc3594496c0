// Model-driven input decoding: every operation's input is checked against AWS's own service model
// (kms-model.json, compacted from botocore's service-2.json), so lengths, ranges, enums, patterns and required
// members behave as AWS's do. Wrong JSON types are SerializationException; constraint failures are
// ValidationException in AWS's wording ("1 validation error detected: Value at 'keyId' failed to satisfy
// constraint: ..."). Values are never echoed: a message cannot leak what a client sent.
import { createRequire } from 'node:module';
import { KmsError } from './errors.js';
import { setEntry } from '../contract/own-entry.js';

/** A shape of AWS's service model (the members this engine reads). */
export interface ModelShape {
  type: 'structure' | 'string' | 'blob' | 'integer' | 'boolean' | 'timestamp' | 'list' | 'map' | 'long';
  members?: Record<string, { shape: string }>;
  required?: string[];
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  min?: number;
  max?: number;
  enum?: string[];
  pattern?: string;
}

export interface ServiceModel {
  operations: Record<string, { input?: string; output?: string }>;
  shapes: Record<string, ModelShape>;
}

/** AWS KMS's service model, compacted (kms-model.json): the source of every input rule. */
export const SERVICE_MODEL = createRequire(import.meta.url)('./kms-model.json') as ServiceModel;
const model = SERVICE_MODEL;


/** The model's shape for an encryption context value (EncryptionContext, the ReEncrypt contexts, grant constraints). */
const ENCRYPTION_CONTEXT_VALUE = 'EncryptionContextValue';

const patterns = new Map<string, RegExp>();
function patternOf(source: string): RegExp {
  let regex = patterns.get(source);
  if (regex === undefined) {
    // Smithy patterns match the whole value (Java's matches()), anchored or not.
    regex = new RegExp(`^(?:${source})$`);
    patterns.set(source, regex);
  }
  return regex;
}

/**
 * A string's length as the model's length trait counts it: in characters (Smithy: Unicode scalar values), as botocore
 * counts them too, not in UTF-16 code units: a Description of 8192 emoji or a TagValue of 256 of them is within its
 * limit. A surrogate pair is one character; a lone surrogate counts as one.
 */
function characterCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) { count--; i++; }
    }
  }
  return count;
}

const lowerCamel = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);

interface StructureMember {
  readonly name: string;
  /** The member's shape, looked up once rather than by name in the model's 251-entry shape table per value. */
  readonly shape: ModelShape | undefined;
  /** Its name in an error's path. */
  readonly camel: string;
  readonly required: boolean;
}

/**
 * Per structure shape, its members in model order with what each check needs, made once: a request's input
 * then costs no Object.entries arrays, no includes() over the required list and no path string per member.
 */
const structureMembers = new WeakMap<ModelShape, readonly StructureMember[]>();

function membersOf(shape: ModelShape): readonly StructureMember[] {
  let members = structureMembers.get(shape);
  if (members === undefined) {
    members = Object.entries(shape.members ?? {}).map(([name, member]) => ({
      name, shape: model.shapes[member.shape], camel: lowerCamel(name), required: shape.required?.includes(name) ?? false,
    }));
    structureMembers.set(shape, members);
  }
  return members;
}


/**
 * Strict standard base64 (padded, no whitespace), or null. Node's decoder is lenient (it skips junk), so the
 * input is valid exactly when re-encoding the bytes gives it back: two native passes, several times faster
 * than an anchored regular expression over a 4 KiB blob.
 */
export function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

/**
 * How many violations a ValidationException message lists. The count in front stays exact; past this the
 * entries are left out, so a request of a million empty list items costs neither a million messages in memory
 * (a body of 16 MiB ran the server out of string length: a 500 after seconds) nor an answer ten times its size.
 */
export const MAX_LISTED_VIOLATIONS = 100;

class Walker {
  readonly violations: string[] = [];
  violationCount = 0;

  constructor(private readonly operation: string) {}

  value(shapeName: string, value: unknown, path: string): unknown {
    return this.valueOf(model.shapes[shapeName], value, path);
  }

  valueOf(shape: ModelShape | undefined, value: unknown, path: string): unknown {
    if (shape === undefined) return value;
    switch (shape.type) {
      case 'structure': return this.structure(shape, value, path);
      case 'string': {
        const text = this.expect(typeof value === 'string', value, path, 'string') as string;
        // A character is one or two UTF-16 units: only a string whose unit count could be past a bound is counted.
        const inBounds = text.length <= (shape.max ?? Infinity) && text.length >= 2 * (shape.min ?? 0);
        this.length(shape, inBounds ? text.length : characterCount(text), path);
        if (shape.enum !== undefined && !shape.enum.includes(text)) {
          this.violate(path, `Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
        } else if (shape.pattern !== undefined && (text.length > 0 || (shape.min ?? 0) === 0) && !patternOf(shape.pattern).test(text)) {
          // An empty string has already failed a min length of 1 or more; where the model allows length 0
          // (KeyMaterialDescription) the pattern alone decides whether an empty value is valid.
          this.violate(path, `Member must satisfy regular expression pattern: ${shape.pattern}`);
        }
        return text;
      }
      case 'blob': {
        const text = this.expect(typeof value === 'string', value, path, 'base64 string') as string;
        const bytes = decodeBase64(text);
        if (bytes === null) throw new KmsError('SerializationException', `Value at '${path}' is not valid base64.`);
        this.length(shape, bytes.length, path);
        return bytes;
      }
      case 'integer':
      case 'long': {
        const number = this.expect(typeof value === 'number' && Number.isInteger(value), value, path, 'integer') as number;
        if (shape.min !== undefined && number < shape.min) this.violate(path, `Member must have value greater than or equal to ${shape.min}`);
        if (shape.max !== undefined && number > shape.max) this.violate(path, `Member must have value less than or equal to ${shape.max}`);
        return number;
      }
      case 'boolean': return this.expect(typeof value === 'boolean', value, path, 'boolean');
      case 'timestamp': return this.expect(typeof value === 'number' && Number.isFinite(value), value, path, 'timestamp');
      case 'list': {
        const list = this.expect(Array.isArray(value), value, path, 'list') as unknown[];
        this.length(shape, list.length, path, 'length');
        return list.map((item, i) => this.value(shape.member!.shape, item, `${path}.${i + 1}.member`));
      }
      case 'map': {
        const map = this.expect(isObject(value), value, path, 'map') as Record<string, unknown>;
        // The path never names the entry's key: map keys (encryption context, tags) are client data, not echoed.
        const keyPath = `${path}.key`;
        const valuePath = `${path}.value`;
        const keys = Object.keys(map);
        const out: Record<string, unknown> = {};
        const valueShape = shape.value!.shape;
        for (const key of keys) {
          this.value(shape.key!.shape, key, keyPath);
          setEntry(out, key, this.value(valueShape, this.contextValue(valueShape, map[key], valuePath), valuePath));
        }
        this.length(shape, keys.length, path, 'length');
        return out;
      }
    }
  }

  /**
   * An encryption context value given as a JSON number, as its string form (kms-api.md 5.2: "numbers are
   * treated as their string form"), so {"n":5} and {"n":"5"} bind, match grants and meet policy conditions
   * alike. Only this map value shape is lenient: every other string member still wants a JSON string. A number
   * whose digits JSON.parse has already lost (an integer beyond 2^53, or one too large for a double) has no
   * faithful string form, so it stays a wrong type rather than becoming a context other than the one sent.
   */
  private contextValue(valueShape: string, value: unknown, path: string): unknown {
    if (valueShape !== ENCRYPTION_CONTEXT_VALUE || typeof value !== 'number') return value;
    const faithful = Number.isInteger(value) ? Number.isSafeInteger(value) : Number.isFinite(value);
    this.expect(faithful, value, path, 'string');
    return String(value);
  }

  structure(shape: ModelShape, value: unknown, path: string): Record<string, unknown> {
    const input = this.expect(isObject(value), value, path || 'body', 'structure') as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const member of membersOf(shape)) {
      const memberValue = input[member.name];
      if (memberValue === undefined || memberValue === null) {
        if (member.required) this.violate(this.memberPath(path, member), 'Member must not be null', 'null');
        continue;
      }
      out[member.name] = this.valueOf(member.shape, memberValue, this.memberPath(path, member));
    }
    return out;
  }

  private memberPath(path: string, member: StructureMember): string {
    return path ? `${path}.${member.camel}` : member.camel;
  }

  private expect(ok: boolean, _value: unknown, path: string, expected: string): unknown {
    if (!ok) throw new KmsError('SerializationException', `Unexpected value type at '${path}' in ${this.operation}: expected ${expected}.`);
    return _value;
  }

  private length(shape: ModelShape, length: number, path: string, _unit = 'length'): void {
    if (shape.min !== undefined && length < shape.min) this.violate(path, `Member must have length greater than or equal to ${shape.min}`);
    if (shape.max !== undefined && length > shape.max) this.violate(path, `Member must have length less than or equal to ${shape.max}`);
  }

  private violate(path: string, constraint: string, shownValue?: string): void {
    if (++this.violationCount > MAX_LISTED_VIOLATIONS) return;
    const prefix = shownValue === undefined ? 'Value' : `Value ${shownValue}`;
    this.violations.push(`${prefix} at '${path}' failed to satisfy constraint: ${constraint}`);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Decodes and validates an operation's JSON input against the model: blobs become Buffers, everything else
 * keeps its JSON type. Throws KmsError(SerializationException | ValidationException).
 */
export function decodeInput(operation: string, body: unknown): Record<string, unknown> {
  const inputShape = model.operations[operation]?.input;
  if (inputShape === undefined) return {};
  const walker = new Walker(operation);
  const decoded = walker.structure(model.shapes[inputShape]!, body, '');
  const count = walker.violationCount;
  if (count > 0) {
    throw new KmsError('ValidationException',
      `${count} validation error${count === 1 ? '' : 's'} detected: ${walker.violations.join('; ')}`);
  }
  return decoded;
}

export const validationError = (path: string, constraint: string): KmsError =>
  new KmsError('ValidationException', `1 validation error detected: Value at '${path}' failed to satisfy constraint: ${constraint}`);
