// What a start warns about once it listens: settings that work but expose something. One line each on stderr,
// printed by the process that announces the start (the single server, or the KMS_FRONTENDS primary).
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from './config.js';
import { rootKeyPlan } from './root-key/open.js';
import { plainHttpWarning } from './tls.js';

export function startWarnings(config: Config): string[] {
  const warnings = [plainHttpWarning(config), ...writableDirectoryWarnings(config), ...secretFileWarnings(config)];
  return warnings.filter((warning): warning is string => warning !== undefined);
}

/** Permission bits as `ls -l` and chmod show them (`0777`). */
const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/**
 * Directories other users can write let them swap the engine's files for their own: in KMS_DATA_DIR a credentials
 * file holding their keys, taken by the next start as the root principal's, or a root key they know, placed before
 * the first start (a sticky bit stops neither); beside KMS_AUDIT_LOG a log and checkpoint of their making. The
 * engine creates these directories 0700; ones made beforehand keep their mode. Reading or entering them is
 * harmless, every file in them being 0600.
 */
function writableDirectoryWarnings(config: Config): (string | undefined)[] {
  const auditDir = dirname(config.auditLog);
  const directories = [{ name: `KMS_DATA_DIR ${config.dataDir}`, path: config.dataDir, holds: 'its credentials, root key and store' }];
  if (auditDir !== config.dataDir) directories.push({ name: `KMS_AUDIT_LOG's directory ${auditDir}`, path: auditDir, holds: 'the audit log' });
  return directories.map(({ name, path, holds }) => {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      return undefined;
    }
    if ((mode & 0o022) === 0) return undefined;
    return `kms-engine: warning: ${name} can be written by users other than its owner (mode ${octal(mode)}), `
      + `who can replace ${holds}; chmod 700 it`;
  });
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
