// First-start secrets in KMS_DATA_DIR: the root wrapping key (32 random bytes) and the root principal's
// credentials, both created with mode 0600. The credentials are printed once, when they are created.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from './config.js';
import { ConfigError } from './config.js';

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
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const randomString = (length: number, alphabet: string): string =>
  Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');

/** KMS_ACCESS_KEY_ID/KMS_SECRET_ACCESS_KEY, else the saved credentials, else new ones (saved and printed). */
export function rootCredentials(config: Config, print: (line: string) => void): RootCredentials {
  if (config.accessKeyId !== undefined && config.secretAccessKey !== undefined) {
    return { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
  }
  const path = join(config.dataDir, 'credentials');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as RootCredentials;
  const credentials = {
    accessKeyId: 'AKIA' + randomString(16, ALPHANUMERIC),
    secretAccessKey: randomString(40, ALPHANUMERIC + 'abcdefghijklmnopqrstuvwxyz'),
  };
  writeFileSync(path, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  print(`kms-engine: created root credentials (saved to ${path}):`);
  print(`  AWS_ACCESS_KEY_ID=${credentials.accessKeyId}`);
  print(`  AWS_SECRET_ACCESS_KEY=${credentials.secretAccessKey}`);
  return credentials;
}
