// Turns wire members (PascalCase, as in the request/response body) into CloudTrail members (lowerCamelCase),
// walking the AWS service model so that the result depends on what a member *is*, not on what it is called:
//  - structure member names are camel-cased; map keys (encryption context, tags by key) are kept verbatim;
//  - blobs (plaintext, ciphertext, messages, signatures, MACs, public keys, import material, attestation
//    documents) and shapes the model flags `sensitive` (passwords, XKS credentials) are never copied;
//  - members the model does not know are dropped, so a client cannot smuggle data into the log under a
//    misspelt or invented name (a failed request is logged as sent, before validation).
// The model is the authority on shapes; SECRET_MEMBERS names the few secrets that are plain strings.

import kmsModel from '../protocol/kms-model.json' with { type: 'json' };

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

/** One value of the given shape, CloudTrail-cased, or undefined when it must not (or cannot) be logged. */
function convert(value: unknown, shapeName: string): unknown {
  const shape = SHAPES[shapeName];
  if (isSecretShape(shape) || value === undefined || value === null) return undefined;
  switch (shape!.type) {
    case 'structure':
      return isPlainObject(value) ? convertMembers(value, shape!.members ?? {}, undefined) : undefined;
    case 'list':
      return Array.isArray(value) ? value.map((item) => convert(item, shape!.member!.shape) ?? null) : undefined;
    case 'map': {
      if (!isPlainObject(value)) return undefined;
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const converted = convert(item, shape!.value!.shape);
        if (converted !== undefined) out[key] = converted;
      }
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

function convertMembers(
  value: Record<string, unknown>,
  members: Readonly<Record<string, ShapeRef>>,
  only: readonly string[] | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of only ?? Object.keys(value)) {
    const ref = members[name];
    if (ref === undefined || SECRET_MEMBERS.has(name)) continue;
    const converted = convert(value[name], ref.shape);
    if (converted !== undefined) out[lowerCamel(name)] = converted;
  }
  return out;
}

/** The request members of `operation` that CloudTrail may show, lowerCamelCase; `{}` for an unknown operation. */
export function requestElements(operation: string, request: Record<string, unknown>): Record<string, unknown> {
  const input = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation]!.input : null;
  if (input === null) return {};
  return convertMembers(request, SHAPES[input]?.members ?? {}, undefined);
}

/** Only the listed output members of `operation` (an allow-list), lowerCamelCase, secrets still removed. */
export function responseElements(
  operation: string,
  response: Record<string, unknown>,
  allowed: readonly string[],
): Record<string, unknown> {
  const output = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation]!.output : null;
  if (output === null) return {};
  return convertMembers(response, SHAPES[output]?.members ?? {}, allowed);
}
