// A root key held in a PKCS#11 token (an HSM, or SoftHSM2): an AES-256 secret key created sensitive and
// non-extractable, so its bytes never exist in this process or on disk. Wrapping is CKM_AES_GCM inside the token,
// bound to (keyId, materialId) exactly like FileRootKey, and laid out the same way (iv | tag | ciphertext), so the
// same key bytes give the same blobs wherever they live.
//
// Each worker thread opens its own session (a PKCS#11 session must not be shared between threads; jobs in one
// worker run one at a time, so one session per worker is enough). The module is initialized once per process:
// the main thread does it first at start, and later C_Initialize calls answer "already initialized". Login state
// belongs to the process too, so "already logged in" is fine. No thread calls C_Finalize while others may be
// using the module; the process exit ends it.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11Types from 'pkcs11js';
import { parsePkcs11Uri, readPin, type Pkcs11Uri } from '../src/root-key/pkcs11-uri.js';
import { ROOT_KEY_ID_BYTES, ROOT_KEY_ID_PROBE } from '../src/root-key/ring.js';
import type { RootKey } from './root-key.js';

type Pkcs11Module = typeof Pkcs11Types;
type Handle = Buffer;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const associatedData = (keyId: string, materialId: string): Buffer =>
  Buffer.from(`kms-engine/material/v1|${keyId}|${materialId}`, 'utf8');

/** Loaded on first use, so a deployment with a root key file never loads the native addon. */
let binding: Pkcs11Module | undefined;
function loadBinding(): Pkcs11Module {
  binding ??= createRequire(import.meta.url)('pkcs11js') as Pkcs11Module;
  return binding;
}

export class Pkcs11Error extends Error {}
/**
 * The token failed an operation on the root key after start (a network HSM unreachable, a token removed, its
 * session or key handle gone). The message names the PKCS#11 function and return value only (pkcs11js puts the
 * CKR_ name in `message`), never data, so it is safe to log: the operator's one clue that the HSM is the cause.
 */
export class Pkcs11TokenError extends Pkcs11Error {}

/** Runs token calls; a PKCS#11 failure becomes a Pkcs11TokenError naming the function and its return value. */
function onToken<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (pkcs11Code(error) === undefined) throw error;
    const method = (error as { method?: unknown }).method;
    throw new Pkcs11TokenError(`${typeof method === 'string' ? method : 'a PKCS#11 call'} returned ${(error as Error).message}`);
  }
}

/** The token holds no secret key with the URI's label (and id): a key `open` was not allowed to create. */
export class Pkcs11KeyMissingError extends Pkcs11Error {}

const pkcs11Code = (error: unknown): number | undefined =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number'
    ? (error as { code: number }).code : undefined;

export class Pkcs11RootKey implements RootKey {
  private constructor(
    private readonly lib: Pkcs11Module,
    private readonly module: Pkcs11Types.PKCS11,
    private readonly session: Handle,
    private readonly key: Handle,
    /** True when this call generated the key (first start). */
    readonly created: boolean,
  ) {}

  /**
   * Opens a session on the token the URI names and finds its root key; with `createIfMissing`, generates it
   * (AES-256, CKA_SENSITIVE, not CKA_EXTRACTABLE, a token object) when no key has that label.
   */
  static open(uriText: string, options: { createIfMissing: boolean }): Pkcs11RootKey {
    const uri = parsePkcs11Uri(uriText);
    const lib = loadBinding();
    const module = new lib.PKCS11();
    try {
      module.load(uri.modulePath);
    } catch (error) {
      throw new Pkcs11Error(`cannot load the PKCS#11 module ${uri.modulePath}: ${(error as Error).message}`);
    }
    try {
      module.C_Initialize({ flags: lib.CKF_OS_LOCKING_OK });
    } catch (error) {
      if (pkcs11Code(error) !== lib.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error;
    }
    const slot = findSlot(lib, module, uri);
    const session = module.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION);
    try {
      const pin = readPin(uri);
      // Without a login the token hides its private objects: the root key would look missing, and be made again.
      if (pin === undefined && (module.C_GetTokenInfo(slot).flags & lib.CKF_LOGIN_REQUIRED)) {
        throw new Pkcs11Error(`token ${describeToken(uri)} requires a user PIN: add pin-source=file:/path/to/pin (or pin-value=) to the URI`);
      }
      if (pin !== undefined) {
        try {
          module.C_Login(session, lib.CKU_USER, pin);
        } catch (error) {
          if (pkcs11Code(error) !== lib.CKR_USER_ALREADY_LOGGED_IN) {
            throw new Pkcs11Error(`cannot log in to the token: ${(error as Error).message}`);
          }
        }
      }
      let key = findKey(lib, module, session, uri);
      let created = false;
      if (key === undefined) {
        if (!options.createIfMissing) throw new Pkcs11KeyMissingError(`the token has no secret key labelled '${uri.object}'`);
        key = generateKey(lib, module, session, uri);
        created = true;
        // PKCS#11 has no create-if-absent: processes starting at once on a token without the key (several nodes'
        // first start) may each generate one, and a token with two keys of one label serves none of them. So a
        // creator looks again, and one that finds another key with the label destroys its own and gives way. At
        // most one key is kept: a creator keeps its key only if it saw no other, and any later creator sees it.
        if (findKeys(module, session, keyTemplate(lib, uri), 2).length > 1) {
          module.C_DestroyObject(session, key);
          throw new Pkcs11Error(`another process created a secret key labelled '${uri.object}' in the token at the same moment; this start gave way to it: start again`);
        }
      }
      return new Pkcs11RootKey(lib, module, session, key, created);
    } catch (error) {
      module.C_CloseSession(session);
      throw error;
    }
  }

  wrap(keyId: string, materialId: string, material: Uint8Array): Buffer {
    const iv = randomBytes(IV_BYTES);
    const sealed = onToken(() => {
      this.module.C_EncryptInit(this.session, this.gcm(iv, associatedData(keyId, materialId)), this.key);
      return this.module.C_Encrypt(this.session, Buffer.from(material), Buffer.alloc(material.length + TAG_BYTES));
    });
    // PKCS#11 gives ciphertext | tag; the stored layout is FileRootKey's iv | tag | ciphertext.
    const body = sealed.subarray(0, sealed.length - TAG_BYTES);
    return Buffer.concat([iv, sealed.subarray(sealed.length - TAG_BYTES), body]);
  }

  unwrap(keyId: string, materialId: string, wrapped: Uint8Array): Buffer {
    const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.length);
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('wrapped key material is too short');
    const iv = bytes.subarray(0, IV_BYTES);
    const tag = bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const body = bytes.subarray(IV_BYTES + TAG_BYTES);
    onToken(() => this.module.C_DecryptInit(this.session, this.gcm(iv, associatedData(keyId, materialId)), this.key));
    try {
      return Buffer.from(this.module.C_Decrypt(this.session, Buffer.concat([body, tag]), Buffer.alloc(body.length + TAG_BYTES)));
    } catch {
      // Tokens differ in how they report a failed tag (SoftHSM2: CKR_GENERAL_ERROR); the cause is one.
      throw new Error('unwrapping key material failed: wrong root key or altered blob');
    }
  }

  /** The root key id probe (see src/root-key/ring.ts), computed by the token. */
  checkValue(): string {
    const sealed = onToken(() => {
      this.module.C_EncryptInit(this.session, this.gcm(ROOT_KEY_ID_PROBE.iv, ROOT_KEY_ID_PROBE.aad), this.key);
      return this.module.C_Encrypt(this.session, ROOT_KEY_ID_PROBE.plaintext, Buffer.alloc(ROOT_KEY_ID_PROBE.plaintext.length + TAG_BYTES));
    });
    return sealed.subarray(sealed.length - TAG_BYTES, sealed.length - TAG_BYTES + ROOT_KEY_ID_BYTES).toString('hex');
  }

  /** Deletes the key from the token (a key this process generated for a run that was then refused), and closes. */
  destroy(): void {
    try {
      this.module.C_DestroyObject(this.session, this.key);
    } finally {
      this.close();
    }
  }

  /** Closes this thread's session (the module stays initialized for the others). */
  close(): void {
    try {
      this.module.C_CloseSession(this.session);
    } catch {
      // already closed with the token
    }
  }

  private gcm(iv: Buffer, aad: Buffer): Pkcs11Types.Mechanism {
    const parameter: Pkcs11Types.AesGCM = { type: this.lib.CK_PARAMS_AES_GCM, iv, aad, ivBits: IV_BYTES * 8, tagBits: TAG_BYTES * 8 };
    return { mechanism: this.lib.CKM_AES_GCM, parameter };
  }
}

function findSlot(lib: Pkcs11Module, module: Pkcs11Types.PKCS11, uri: Pkcs11Uri): Handle {
  for (const slot of module.C_GetSlotList(true)) {
    if (uri.slotId !== undefined && slot.readUIntLE(0, Math.min(slot.length, 6)) !== uri.slotId) continue;
    const info = module.C_GetTokenInfo(slot);
    if (!(info.flags & lib.CKF_TOKEN_INITIALIZED)) continue;
    if (uri.token !== undefined && info.label.trimEnd() !== uri.token) continue;
    if (uri.serial !== undefined && info.serialNumber.trimEnd() !== uri.serial) continue;
    return slot;
  }
  throw new Pkcs11Error(`no initialized token matches ${describeToken(uri)}`);
}

const describeToken = (uri: Pkcs11Uri): string => [
  uri.token !== undefined ? `token=${uri.token}` : '', uri.serial !== undefined ? `serial=${uri.serial}` : '',
  uri.slotId !== undefined ? `slot-id=${uri.slotId}` : '',
].filter(Boolean).join(' ');

function keyTemplate(lib: Pkcs11Module, uri: Pkcs11Uri): Pkcs11Types.Template {
  const template: Pkcs11Types.Template = [
    { type: lib.CKA_CLASS, value: lib.CKO_SECRET_KEY },
    { type: lib.CKA_LABEL, value: uri.object },
  ];
  if (uri.id !== undefined) template.push({ type: lib.CKA_ID, value: uri.id });
  return template;
}

function findKey(lib: Pkcs11Module, module: Pkcs11Types.PKCS11, session: Handle, uri: Pkcs11Uri): Handle | undefined {
  const found = findKeys(module, session, keyTemplate(lib, uri), 2);
  if (found.length > 1) throw new Pkcs11Error(`the token holds more than one secret key labelled '${uri.object}': add id= to the URI (or, if another process is creating the key right now, start again)`);
  return found[0];
}

function findKeys(module: Pkcs11Types.PKCS11, session: Handle, template: Pkcs11Types.Template, max: number): Handle[] {
  module.C_FindObjectsInit(session, template);
  try {
    return module.C_FindObjects(session, max);
  } finally {
    module.C_FindObjectsFinal(session);
  }
}

function generateKey(lib: Pkcs11Module, module: Pkcs11Types.PKCS11, session: Handle, uri: Pkcs11Uri): Handle {
  return module.C_GenerateKey(session, { mechanism: lib.CKM_AES_KEY_GEN }, [
    ...keyTemplate(lib, uri),
    ...(uri.id === undefined ? [{ type: lib.CKA_ID, value: randomBytes(8) }] : []),
    { type: lib.CKA_KEY_TYPE, value: lib.CKK_AES },
    { type: lib.CKA_VALUE_LEN, value: 32 },
    { type: lib.CKA_TOKEN, value: true },
    { type: lib.CKA_PRIVATE, value: true },
    { type: lib.CKA_SENSITIVE, value: true },
    { type: lib.CKA_EXTRACTABLE, value: false },
    { type: lib.CKA_ENCRYPT, value: true },
    { type: lib.CKA_DECRYPT, value: true },
    { type: lib.CKA_WRAP, value: false },
    { type: lib.CKA_UNWRAP, value: false },
    { type: lib.CKA_SIGN, value: false },
    { type: lib.CKA_VERIFY, value: false },
    { type: lib.CKA_DERIVE, value: false },
  ]);
}
