// PKCS#11 URIs (RFC 7512) naming the token-held root key, e.g.
//   pkcs11:token=kms;object=root-key;type=secret-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
// Path attributes pick the token (token label, serial, slot-id) and the key (object label, id); query attributes
// say which module to load and where the user PIN comes from. Pure: imported by the main thread (to check the
// URI at start) and by workers (to open their own sessions).
import { readFileSync } from 'node:fs';

export interface Pkcs11Uri {
  modulePath: string;
  token?: string;
  serial?: string;
  slotId?: number;
  /** CKA_LABEL of the root key. */
  object: string;
  /** CKA_ID of the root key (bytes), when the URI gives one. */
  id?: Buffer;
  pin: { source: 'file'; path: string } | { source: 'value'; value: string } | { source: 'none' };
}

export class Pkcs11UriError extends Error {}

const PATH_ATTRIBUTES = new Set(['token', 'serial', 'slot-id', 'object', 'id', 'type', 'manufacturer', 'model', 'library-manufacturer', 'library-description', 'library-version', 'slot-description', 'slot-manufacturer']);
const QUERY_ATTRIBUTES = new Set(['module-path', 'module-name', 'pin-source', 'pin-value']);

/** RFC 7512 values are percent-encoded bytes (CKA_ID may be binary). Errors name the attribute, never its value: it may be a PIN. */
function percentDecode(name: string, value: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Pkcs11UriError(`bad percent-encoding in the value of '${name}'`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(value[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

function attributes(part: string, separator: string, known: ReadonlySet<string>, where: 'path' | 'query'): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  if (part === '') return found;
  for (const [index, item] of part.split(separator).entries()) {
    const equals = item.indexOf('=');
    // Not the item itself: a mistyped 'pin-value:1234' would put the PIN in the message.
    if (equals <= 0) throw new Pkcs11UriError(`${where} attribute ${index + 1} is not name=value`);
    const name = item.slice(0, equals).toLowerCase();
    if (!known.has(name) && !name.startsWith('x-')) throw new Pkcs11UriError(`unknown attribute '${name}'`);
    if (found.has(name)) throw new Pkcs11UriError(`attribute '${name}' appears twice`);
    found.set(name, percentDecode(name, item.slice(equals + 1)));
  }
  return found;
}

export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!uri.startsWith('pkcs11:')) throw new Pkcs11UriError('must start with pkcs11:');
  const rest = uri.slice('pkcs11:'.length);
  const question = rest.indexOf('?');
  const path = attributes(question < 0 ? rest : rest.slice(0, question), ';', PATH_ATTRIBUTES, 'path');
  const query = attributes(question < 0 ? '' : rest.slice(question + 1), '&', QUERY_ATTRIBUTES, 'query');
  const text = (map: Map<string, Buffer>, name: string) => map.get(name)?.toString('utf8');

  const modulePath = text(query, 'module-path');
  if (modulePath === undefined) throw new Pkcs11UriError('needs module-path=<the PKCS#11 module, e.g. libsofthsm2.so>');
  if (query.has('module-name')) throw new Pkcs11UriError('module-name is not supported; give module-path');
  const object = text(path, 'object');
  if (object === undefined) throw new Pkcs11UriError('needs object=<the root key label>');
  const type = text(path, 'type');
  if (type !== undefined && type !== 'secret-key') throw new Pkcs11UriError(`type must be secret-key, got '${type}'`);
  const token = text(path, 'token');
  const serial = text(path, 'serial');
  const slotText = text(path, 'slot-id');
  if (slotText !== undefined && !/^\d+$/.test(slotText)) throw new Pkcs11UriError('slot-id must be a number');
  if (token === undefined && serial === undefined && slotText === undefined) {
    throw new Pkcs11UriError('needs token=<label> (or serial= or slot-id=) to pick the token');
  }
  const pinSource = text(query, 'pin-source');
  const pinValue = text(query, 'pin-value');
  if (pinSource !== undefined && pinValue !== undefined) throw new Pkcs11UriError('give pin-source or pin-value, not both');
  let pin: Pkcs11Uri['pin'] = { source: 'none' };
  if (pinValue !== undefined) pin = { source: 'value', value: pinValue };
  else if (pinSource !== undefined) {
    const file = pinSource.startsWith('file:') ? pinSource.slice('file:'.length).replace(/^\/\/(localhost)?(?=\/)/, '') : pinSource;
    if (!file.startsWith('/')) throw new Pkcs11UriError('pin-source must be file:/absolute/path');
    pin = { source: 'file', path: file };
  }
  return {
    modulePath, token, serial, slotId: slotText === undefined ? undefined : Number(slotText), object,
    id: path.get('id'), pin,
  };
}

/** The user PIN, read when a session logs in (so a PIN file can be rotated without a new URI). */
export function readPin(uri: Pkcs11Uri): string | undefined {
  switch (uri.pin.source) {
    case 'value': return uri.pin.value;
    case 'file': return readFileSync(uri.pin.path, 'utf8').replace(/\r?\n$/, '');
    case 'none': return undefined;
  }
}

/** The URI with any inline PIN hidden: safe for logs and error messages. */
export function redactPkcs11Uri(uri: string): string {
  return uri.replace(/([?&]pin-value=)[^&]*/i, '$1***');
}
