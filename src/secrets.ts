// First-start secrets in KMS_DATA_DIR: the root wrapping key (32 random bytes) and the root principal's
// credentials, both created with mode 0600. New credentials are printed once, when the start that created them
// has succeeded; a start that fails removes them again (StartCredentials).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from './config.js';
import { ConfigError, pathError } from './config.js';
import { makeDirectory } from './make-directory.js';

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export function ensureRootKeyFile(path: string): void {
  if (existsSync(path)) {
    const size = readFileSync(path).length;
    if (size !== 32) throw new ConfigError(`KMS_ROOT_KEY_FILE must hold exactly 32 bytes, ${path} holds ${size}`);
    return;
  }
  makeDirectory(dirname(path), 0o700);
  writeFileSync(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const randomString = (length: number, alphabet: string): string =>
  Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');

/**
 * The root credentials of this start: KMS_ACCESS_KEY_ID/KMS_SECRET_ACCESS_KEY, else the saved ones, else new
 * ones, saved at once (KMS_FRONTENDS children read them from the file) but printed only by announce().
 */
export interface StartCredentials extends RootCredentials {
  /** True when this start generated and saved them. */
  readonly created: boolean;
  /** Prints new credentials, once: called when the start has succeeded. Does nothing for existing ones. */
  announce(print: (line: string) => void): void;
  /**
   * Removes new credentials that were never announced: a start that failed has not printed them, and the next
   * start must generate (and print) its own rather than find these and stay silent.
   */
  withdraw(): void;
}

/**
 * `create: false` (the seed command, which authenticates nobody): without configured or saved credentials,
 * throwaway ones that are neither saved nor printed, so that the server's first start makes, saves and prints
 * the real ones (interface.md: "generated at first start ... and printed once").
 */
export function rootCredentials(config: Config, { create = true }: { create?: boolean } = {}): StartCredentials {
  if (config.accessKeyId !== undefined && config.secretAccessKey !== undefined) {
    return existing({ accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey });
  }
  const path = join(config.dataDir, 'credentials');
  if (existsSync(path)) return existing(readSavedCredentials(path));
  const credentials = newCredentials();
  if (!create) return existing(credentials);
  try {
    writeFileSync(path, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    throw pathError('KMS_DATA_DIR', path, error);
  }
  let announced = false;
  return {
    ...credentials,
    created: true,
    announce(print) {
      if (announced) return;
      announced = true;
      print(`kms-engine: created root credentials (saved to ${path}):`);
      print(`  AWS_ACCESS_KEY_ID=${credentials.accessKeyId}`);
      print(`  AWS_SECRET_ACCESS_KEY=${credentials.secretAccessKey}`);
    },
    withdraw() {
      if (!announced) rmSync(path, { force: true });
    },
  };
}

/**
 * The credentials a first start saved. A file that does not hold them stops the start naming KMS_DATA_DIR, in
 * words of its own: JSON.parse's message would quote the file, secret included.
 */
function readSavedCredentials(path: string): RootCredentials {
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw pathError('KMS_DATA_DIR', path, error);
  }
  const { accessKeyId, secretAccessKey } = (typeof saved === 'object' && saved !== null ? saved : {}) as Record<string, unknown>;
  if (typeof accessKeyId !== 'string' || accessKeyId === '' || typeof secretAccessKey !== 'string' || secretAccessKey === '') {
    throw new ConfigError(`KMS_DATA_DIR: ${path} does not hold the root credentials ({"accessKeyId", "secretAccessKey"}); remove it to have new ones made`);
  }
  return { accessKeyId, secretAccessKey };
}

const newCredentials = (): RootCredentials => ({
  accessKeyId: 'AKIA' + randomString(16, ALPHANUMERIC),
  secretAccessKey: randomString(40, ALPHANUMERIC + 'abcdefghijklmnopqrstuvwxyz'),
});

const existing = (credentials: RootCredentials): StartCredentials =>
  ({ ...credentials, created: false, announce() {}, withdraw() {} });
