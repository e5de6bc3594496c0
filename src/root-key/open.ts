// Which root keys this deployment uses, and opening them. The current root key is KMS_ROOT_KEY (a pkcs11: URI)
// or else KMS_ROOT_KEY_FILE; during a root key rotation KMS_NEW_ROOT_KEY / KMS_NEW_ROOT_KEY_FILE names the next
// one, which then wraps everything new while both unwrap (README "Root key rotation").
//
// The main thread only prepares (creates a missing key file or token key, checks the URI and PIN) and hands the
// plan to the workers, which open the keys themselves: the root key never crosses a thread boundary.
import { createSecretKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, pathError, type Config } from '../config.js';
import { ensureRootKeyFile } from '../secrets.js';
import { FileRootKey } from '../../workers/root-key.js';
import { Pkcs11Error, Pkcs11RootKey } from '../../workers/root-key-pkcs11.js';
import { Pkcs11UriError, redactPkcs11Uri } from './pkcs11-uri.js';
import { RootKeyRing, rootKeyIdOfSecret, type HeldRootKey } from './ring.js';

export type RootKeySource =
  | { kind: 'file'; path: string; variable: string }
  | { kind: 'pkcs11'; uri: string; variable: string };

/** Plain data: travels to workers in workerData. */
export interface RootKeyPlan {
  current: RootKeySource;
  /** The root key being rotated to, if a rotation is under way. */
  next?: RootKeySource;
}

export function rootKeyPlan(config: Config): RootKeyPlan {
  const current: RootKeySource = config.rootKeyUri !== undefined
    ? { kind: 'pkcs11', uri: config.rootKeyUri, variable: 'KMS_ROOT_KEY' }
    : { kind: 'file', path: config.rootKeyFile, variable: 'KMS_ROOT_KEY_FILE' };
  const next: RootKeySource | undefined = config.newRootKeyUri !== undefined
    ? { kind: 'pkcs11', uri: config.newRootKeyUri, variable: 'KMS_NEW_ROOT_KEY' }
    : config.newRootKeyFile !== undefined
      ? { kind: 'file', path: config.newRootKeyFile, variable: 'KMS_NEW_ROOT_KEY_FILE' }
      : undefined;
  return next === undefined ? { current } : { current, next };
}

export const describeRootKeySource = (source: RootKeySource): string =>
  source.kind === 'file' ? source.path : redactPkcs11Uri(source.uri);

/** Opens one root key in this thread. */
export function openRootKey(source: RootKeySource, createIfMissing = false): HeldRootKey {
  const description = describeRootKeySource(source);
  try {
    if (source.kind === 'file') {
      if (createIfMissing) ensureRootKeyFile(source.path);
      const bytes = readFileSync(source.path);
      try {
        if (bytes.length !== 32) throw new ConfigError(`${source.variable}: ${source.path} must hold exactly 32 bytes, it holds ${bytes.length}`);
        return { id: rootKeyIdOfSecret(createSecretKey(bytes)), key: new FileRootKey(bytes), description };
      } finally {
        bytes.fill(0);
      }
    }
    const key = Pkcs11RootKey.open(source.uri, { createIfMissing });
    return { id: key.checkValue(), key, description, close: () => key.close() };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof Pkcs11UriError || error instanceof Pkcs11Error) {
      throw new ConfigError(`${source.variable}: ${error.message}`, { cause: error });
    }
    throw new ConfigError(`${source.variable}: cannot open the root key at ${description}: ${(error as Error).message}`);
  }
}

/** The ring a worker (or the rotation command) uses: the next root key wraps if there is one; both unwrap. */
export function openRootKeyRing(plan: RootKeyPlan, createIfMissing = false): RootKeyRing {
  const current = openRootKey(plan.current, createIfMissing);
  if (plan.next === undefined) return new RootKeyRing(current);
  try {
    return new RootKeyRing(openRootKey(plan.next, createIfMissing), [current]);
  } catch (error) {
    current.close?.();
    throw error;
  }
}

/**
 * Main thread, at start: checks the plan (a URI that does not parse, a wrong PIN, a missing token all stop the
 * server with one line naming the variable) and creates missing keys, before any worker exists. A token's
 * sessions stay open until `close`, which keeps the module initialized and logged in for the workers' sessions.
 * A root key file is only created here, never read: its bytes belong in the workers. `destroyCreatedTokenKeys`
 * deletes the token keys this call generated (and closes): a command refused after preparing leaves none behind.
 */
export function prepareRootKeys(plan: RootKeyPlan): { close(): void; destroyCreatedTokenKeys(): void } {
  const opened: HeldRootKey[] = [];
  try {
    for (const source of plan.next === undefined ? [plan.current] : [plan.current, plan.next]) {
      if (source.kind === 'file') {
        try {
          ensureRootKeyFile(source.path);
        } catch (error) {
          if (error instanceof ConfigError) throw new ConfigError(error.message.replace('KMS_ROOT_KEY_FILE', source.variable));
          throw pathError(source.variable, source.path, error);
        }
      } else {
        opened.push(openRootKey(source, true));
      }
    }
  } catch (error) {
    for (const held of opened) held.close?.();
    throw error;
  }
  return {
    close: () => { for (const held of opened) held.close?.(); },
    destroyCreatedTokenKeys: () => {
      for (const held of opened) {
        if (held.key instanceof Pkcs11RootKey && held.key.created) held.key.destroy();
        else held.close?.();
      }
    },
  };
}
