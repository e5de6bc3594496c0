// What a start warns about once it listens: settings that work but expose something. One line each on stderr,
// printed by the process that announces the start (the single server, or the KMS_FRONTENDS primary).
import { statSync } from 'node:fs';
import type { Config } from './config.js';
import { rootKeyPlan } from './root-key/open.js';
import { plainHttpWarning } from './tls.js';

export function startWarnings(config: Config): string[] {
  const warnings = [plainHttpWarning(config), dataDirectoryWarning(config), ...secretFileWarnings(config)];
  return warnings.filter((warning): warning is string => warning !== undefined);
}

/** Permission bits as `ls -l` and chmod show them (`0777`). */
const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/**
 * A KMS_DATA_DIR that other users can write lets them swap its files for their own: a credentials file holding
 * their keys, taken by the next start as the root principal's, or a root key they know, placed before the first
 * start (a sticky bit stops neither). The engine creates the directory 0700; one made beforehand keeps its mode.
 * Reading or entering it is harmless, every file in it being 0600.
 */
function dataDirectoryWarning(config: Config): string | undefined {
  let mode: number;
  try {
    mode = statSync(config.dataDir).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o022) === 0) return undefined;
  return `kms-engine: warning: KMS_DATA_DIR ${config.dataDir} can be written by users other than its owner (mode ${octal(mode)}), `
    + 'who can replace its credentials, root key and store; chmod 700 it';
}

/**
 * Secret files other users can read or write: a root key file hands them every key's material together with a
 * copy of the store, the TLS private key lets them pose as the engine to its clients. Only a warning, not a
 * refusal: secret mounts are often 0644 under a directory only the service can enter, which this check cannot see.
 */
function secretFileWarnings(config: Config): (string | undefined)[] {
  const { current, next } = rootKeyPlan(config);
  const files = [current, next].flatMap((source) => source?.kind === 'file' ? [source] : []);
  if (config.tlsKey !== undefined) files.push({ kind: 'file', path: config.tlsKey, variable: 'KMS_TLS_KEY' });
  return files.map(({ path, variable }) => {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      return undefined; // prepared before listening; gone since is reported by its first use
    }
    if ((mode & 0o066) === 0) return undefined;
    return `kms-engine: warning: ${variable} ${path} can be read or written by users other than its owner `
      + `(mode ${octal(mode)}); chmod 600 it`;
  });
}
