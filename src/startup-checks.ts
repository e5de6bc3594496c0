// Every environment value `serve` reads, checked before start-up creates anything (data directory, root key,
// root credentials, store): a bad one stops the server with the one line naming the variable (interface.md),
// and a start that fails this way leaves nothing behind, in particular no credentials printed or saved.
// loadConfig (config.ts) has already checked the plain values; these are the ones that need parsing against
// tables, reading a file or asking the system.
import { lookup } from 'node:dns/promises';
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { loadIdentities } from './auth/identities.js';
import { ConfigError, type Config } from './config.js';
import { listenError } from './listen-errors.js';
import { parseQuotas } from './quota/index.js';
import { createRealism } from './realism-config.js';
import { checkStartupSeedFile } from './seed/apply.js';
import { loadTlsOptions } from './tls.js';

export async function checkServeEnvironment(config: Config): Promise<void> {
  checkDirectoryPath('KMS_DATA_DIR', config.dataDir);
  if (config.rootKeyUri === undefined) checkFilePath('KMS_ROOT_KEY_FILE', config.rootKeyFile);
  if (config.newRootKeyFile !== undefined) checkFilePath('KMS_NEW_ROOT_KEY_FILE', config.newRootKeyFile);
  checkFilePath('KMS_AUDIT_LOG', config.auditLog);
  loadTlsOptions(config);
  quotasOf(config);
  checkIdentitiesFile(config);
  createRealism(config);
  if (config.seedFile !== undefined) await checkStartupSeedFile(config.seedFile);
  await checkHost(config.host);
}

/**
 * A directory start-up creates if missing (KMS_DATA_DIR): it, or else its nearest existing ancestor, must be a
 * directory. Otherwise the first mkdir would fail later with Node's text, after other files were made.
 */
function checkDirectoryPath(variable: string, path: string, named = path): void {
  for (let dir = path; ; dir = dirname(dir)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(dir).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(dir) !== dir) continue;
      throw new ConfigError(`${variable}: cannot use ${dir} (${code ?? 'error'})`);
    }
    if (isDirectory) return;
    throw new ConfigError(dir === named ? `${variable}: ${dir} is not a directory` : `${variable}: ${named}: ${dir} is not a directory`);
  }
}

/** A file start-up creates if missing (the root key file, the audit log): not a directory, in a usable one. */
function checkFilePath(variable: string, path: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    // Missing (created at start) or under a non-directory: the parent check names it.
  }
  if (isDirectory) throw new ConfigError(`${variable}: ${path} is a directory, not a file`);
  checkDirectoryPath(variable, dirname(path), path);
}

/** KMS_QUOTAS for KMS_REGION; a bad item is a ConfigError naming the variable and the item. */
export function quotasOf(config: Pick<Config, 'quotas' | 'region'>): ReturnType<typeof parseQuotas> {
  try {
    return parseQuotas(config.quotas, config.region);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * KMS_IDENTITIES, read and compiled as at start, against the root access key KMS_ACCESS_KEY_ID configures (a
 * principal may not share it). Without one the real root's key may not exist yet: a clash with a saved one is
 * refused when the engine loads the file; a newly generated one cannot clash.
 */
function checkIdentitiesFile(config: Config): void {
  if (config.identitiesFile === undefined) return;
  try {
    loadIdentities({
      accountId: config.accountId, rootAccessKeyId: config.accessKeyId ?? '', rootSecretAccessKey: '', identitiesFile: config.identitiesFile,
    });
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * HOST must resolve and be an address of this machine. Checked by listening on a free port of it and closing
 * again, which answers both with the system's own verdict and leaves PORT alone (a port in use is reported when
 * the server listens, by listenError).
 */
async function checkHost(host: string): Promise<void> {
  try {
    await lookup(host);
  } catch (error) {
    throw listenError(error, host, 0);
  }
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, host, resolve);
    });
  } catch (error) {
    throw listenError(error, host, 0);
  } finally {
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}
