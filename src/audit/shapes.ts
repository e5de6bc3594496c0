// Turns wire members (PascalCase, as in the request/response body) into CloudTrail members (lowerCamelCase),
// walking the AWS service model so that the result depends on what a member *is*, not on what it is called:
//  - structure member names are camel-cased; map keys (encryption context, tags by key) are kept verbatim;
//  - blobs (plaintext, ciphertext, messages, signatures, MACs, public keys, import material, attestation
//    documents) and shapes the model flags `sensitive` (passwords, XKS credentials) are never copied;
//  - members the model does not know are dropped, so a client cannot smuggle data into the log under a
//    misspelt or invented name (a failed request is logged as sent, before validation).
// The model is the authority on shapes; SECRET_MEMBERS names the few secrets that are plain strings.
// Output objects are built with their keys in sorted order (the order canonicalJson writes them in), so the audit
// chain can hash a record's plain JSON.stringify instead of re-sorting every object of every record (chain.ts).

import kmsModel from '../protocol/kms-model.json' with { type: 'json' };
import { setEntry } from '../contract/own-entry.js';

interface ShapeRef { readonly shape: string }
interface Shape {
  readonly type: string;
  readonly members?: Readonly<Record<string, ShapeRef>>;
  readonly member?: ShapeRef;
  readonly value?: ShapeRef;
  readonly sensitive?: boolean;
}
interface Operation { readonly input: string | null; readonly output: string | null }

const SHAPES = kmsModel.shapes as unknown as Readonly<Record<string, Shape>>;
const OPERATIONS = kmsModel.operations as unknown as Readonly<Record<string, Operation>>;

/**
 * Secrets and bearer material the model types as strings or structures: grant tokens authorize whoever holds
 * them, Recipient carries an enclave attestation, trust anchors are bulky certificates.
 */
const SECRET_MEMBERS: ReadonlySet<string> = new Set([
  'GrantTokens', 'GrantToken', 'Recipient', 'KeyStorePassword', 'XksProxyAuthenticationCredential',
  'TrustAnchorCertificate',
]);

export const lowerCamel = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * CloudTrail renders KMS timestamps inside request/response elements as `Dec 4, 2023, 9:40:00 PM` (UTC),
 * unlike the epoch-second numbers on the wire.
 */
export function cloudTrailDate(value: unknown): string | undefined {
  const date = typeof value === 'number' ? new Date(value * 1000)
    : value instanceof Date ? value
    : typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) return undefined;
  const hours = date.getUTCHours();
  const hour12 = hours % 12 === 0 ? 12 : hours % 12;
  return `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()}, `
    + `${hour12}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} ${hours < 12 ? 'AM' : 'PM'}`;
}

const isSecretShape = (shape: Shape | undefined): boolean =>
  shape === undefined || shape.type === 'blob' || shape.sensitive === true;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Whether every object a conversion built holds its keys in sorted order. A map whose keys include array
 * indices ("10", "9") cannot: JavaScript enumerates those first, in numeric order, whatever the insertion order.
 */
export interface KeyOrder {
  sorted: boolean;
}

interface Member {
  readonly name: string;
  readonly camel: string;
  readonly shape: string;
}

/** Per structure shape: its loggable members sorted by CloudTrail name, so output keys come out sorted. */
const memberTables = new Map<Readonly<Record<string, ShapeRef>>, readonly Member[]>();

function membersOf(members: Readonly<Record<string, ShapeRef>>): readonly Member[] {
  let table = memberTables.get(members);
  if (table === undefined) {
    table = Object.entries(members)
      .filter(([name]) => !SECRET_MEMBERS.has(name))
      .map(([name, ref]) => ({ name, camel: lowerCamel(name), shape: ref.shape }))
      .sort((a, b) => (a.camel < b.camel ? -1 : a.camel > b.camel ? 1 : 0));
    memberTables.set(members, table);
  }
  return table;
}

const isSorted = (keys: readonly string[]): boolean => {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
};

/** A key JavaScript may enumerate ahead of insertion order (an array index starts with a digit). */
const mayBeIndex = (key: string): boolean => {
  const code = key.charCodeAt(0);
  return code >= 0x30 && code <= 0x39;
};

/** One value of the given shape, CloudTrail-cased, or undefined when it must not (or cannot) be logged. */
function convert(value: unknown, shapeName: string, order: KeyOrder): unknown {
  const shape = SHAPES[shapeName];
  if (isSecretShape(shape) || value === undefined || value === null) return undefined;
  switch (shape!.type) {
    case 'structure':
      return isPlainObject(value) ? convertMembers(value, shape!.members ?? {}, undefined, order) : undefined;
    case 'list':
      return Array.isArray(value) ? value.map((item) => convert(item, shape!.member!.shape, order) ?? null) : undefined;
    case 'map': {
      if (!isPlainObject(value)) return undefined;
      // Map keys are client data in any order: sorted here, once, rather than at every hash.
      const keys = Object.keys(value);
      if (!isSorted(keys)) keys.sort();
      const out: Record<string, unknown> = {};
      let indexLike = false;
      for (const key of keys) {
        const converted = convert(value[key], shape!.value!.shape, order);
        if (converted === undefined) continue;
        setEntry(out, key, converted);
        if (mayBeIndex(key)) indexLike = true;
      }
      if (indexLike && !isSorted(Object.keys(out))) order.sorted = false;
      return out;
    }
    case 'timestamp':
      return cloudTrailDate(value);
    case 'string':
      return typeof value === 'string' ? value : undefined;
    case 'integer':
      return typeof value === 'number' ? value : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined;
    default:
      return undefined;
  }
}

/**
 * The model members present in `value` (own or not: model member names are PascalCase, none is a property of
 * Object.prototype), CloudTrail-cased, in sorted order.
 */
function convertMembers(
  value: Record<string, unknown>,
  members: Readonly<Record<string, ShapeRef>>,
  only: readonly string[] | undefined,
  order: KeyOrder,
  defaults?: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const member of membersOf(members)) {
    let item = value[member.name];
    if (item === undefined && defaults !== undefined) item = defaults[member.name];
    if (item === undefined || (only !== undefined && !only.includes(member.name))) continue;
    const converted = convert(item, member.shape, order);
    if (converted !== undefined) out[member.camel] = converted;
  }
  return out;
}

/** Whoever does not ask whether the keys came out sorted. */
const unobserved = (): KeyOrder => ({ sorted: true });

/**
 * The request members of `operation` that CloudTrail may show, lowerCamelCase, keys sorted at every depth
 * unless `order.sorted` comes back false; `{}` for an unknown operation. `defaults` (PascalCase, as on the wire)
 * stand in for members the request leaves out: CloudTrail shows the value the call used, not only what was sent.
 */
export function requestElements(operation: string, request: Record<string, unknown>, order = unobserved(),
  defaults?: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const input = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation]!.input : null;
  if (input === null) return {};
  return convertMembers(request, SHAPES[input]?.members ?? {}, undefined, order, defaults);
}

/** Only the listed output members of `operation` (an allow-list), lowerCamelCase, secrets still removed. */
export function responseElements(
  operation: string,
  response: Record<string, unknown>,
  allowed: readonly string[],
  order = unobserved(),
): Record<string, unknown> {
  const output = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation]!.output : null;
  if (output === null) return {};
  return convertMembers(response, SHAPES[output]?.members ?? {}, allowed, order);
}
