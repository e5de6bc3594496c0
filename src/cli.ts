// `kms-engine <command>`: serve (default), seed FILE, audit verify FILE, backup DIR, rotate-root-key, bench [options].
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asksForHelp, usage } from './cli-usage.js';
import type { FrontendLink } from './cluster/frontend-link.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { PROJECT_ROOT } from './paths.js';
import type { RunningServer } from './server.js';
import { SeedError } from './seed/apply.js';

const USAGE = `usage: kms-engine <command>
  serve                 start the server (the default, with no command; environment: see README)
  seed FILE             apply a seed file to the store
  audit verify FILE     check an audit log's hash chain
  backup DIR            copy the SQLite store, audit log and root key file while the server runs
  rotate-root-key       re-wrap all key material under KMS_NEW_ROOT_KEY_FILE / KMS_NEW_ROOT_KEY
  bench [options]       the load-test harness (kms-engine bench --help)
  --version             print the version`;

const SERVE_USAGE = 'usage: kms-engine serve   (no arguments: it is configured by environment variables, README "Environment")';
const SEED_USAGE = 'usage: kms-engine seed FILE';
const AUDIT_USAGE = 'usage: kms-engine audit verify FILE';

export async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        // cluster.fork gives KMS_FRONTENDS children this same argv: they pass or fail this check with their primary.
        if (rest.length > 0) return usage(SERVE_USAGE, rest);
        return await serve();
      case 'seed': return await seed(rest);
      case 'audit': {
        if (rest[0] !== 'verify') return usage(AUDIT_USAGE, rest);
        const { runAuditVerifyCommand } = await import('./audit/verify.js');
        return await runAuditVerifyCommand(rest.slice(1));
      }
      case 'backup': {
        const { runBackupCommand } = await import('./backup.js');
        return await runBackupCommand(rest);
      }
      case 'rotate-root-key': {
        const { runRotateRootKeyCommand } = await import('./root-key/rotate.js');
        return await runRotateRootKeyCommand(rest);
      }
      case 'bench': {
        const harness = '../bench/harness/cli.js';
        const { runBench } = (await import(harness)) as { runBench(argv: string[]): Promise<number> };
        return await runBench(rest);
      }
      case '--help': case '-h': case 'help':
        if (rest.length > 0) return takesNoArguments(command, rest);
        console.log(USAGE);
        return 0;
      case '--version': case '-v': case 'version': {
        if (rest.length > 0) return takesNoArguments(command, rest);
        const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
        console.log(`kms-engine ${version}`);
        return 0;
      }
      default:
        console.error(`kms-engine: unknown command '${command}' (kms-engine --help lists the commands)`);
        return 2;
    }
  } catch (error) {
    // Configuration and start-up failures (a bad KMS_QUOTAS item, an unreadable KMS_IDENTITIES file, a port
    // in use) end the process with one line that names the cause, not a stack trace.
    console.error(`kms-engine: ${error instanceof Error ? error.message : String(error)}`);
    return error instanceof ConfigError || error instanceof SeedError ? 2 : 1;
  }
}

/** `kms-engine --version now`: refused like any argument a command does not take, rather than ignored. */
function takesNoArguments(command: string, rest: readonly string[]): number {
  console.error(`kms-engine: ${command} takes no arguments, got '${rest[0]}' (kms-engine --help lists the commands)`);
  return 2;
}

async function serve(): Promise<number> {
  const config = loadConfig();
  const { FrontendLink } = await import('./cluster/frontend-link.js');
  const link = FrontendLink.fromEnvironment(config.frontends);
  if (link !== undefined) return serveFrontend(config, link);
  // Before anything is created (data dir, root key, credentials): a bad value is the only line a start prints.
  const { checkServeEnvironment } = await import('./startup-checks.js');
  await checkServeEnvironment(config);
  // Taken by the one process that owns the directory (the KMS_FRONTENDS primary, or the single server).
  const { makeDataDirectory } = await import('./make-directory.js');
  const { lockDataDirectory } = await import('./data-dir-lock.js');
  makeDataDirectory(config.dataDir);
  lockDataDirectory(config.dataDir);
  if (config.frontends > 1) {
    const { runFrontends } = await import('./cluster/frontends.js');
    return await runFrontends(config);
  }
  const { startServer } = await import('./server.js');
  // The signal handlers go in before the start, not after it: a SIGTERM sent as soon as the `listening` line shows
  // (a supervisor, a test) met Node's default action in the moment between the line and the handlers, and the
  // process died undrained (its audit batch in flight, key uses not yet saved). A signal that comes while the
  // server is still starting ends the process as before.
  let server: RunningServer | undefined;
  const stopRequested = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (server === undefined) process.kill(process.pid, signal); // this listener is gone: the default action
      else resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  server = await startServer(config);
  await stopRequested;
  console.log('kms-engine: shutting down');
  await server.close().catch(() => {});
  return 0;
}

/** One of KMS_FRONTENDS children (src/cluster/frontends.ts): the primary speaks for it on stdout. */
async function serveFrontend(config: Config, link: FrontendLink): Promise<number> {
  const { startServer } = await import('./server.js');
  const { frontendConfig } = await import('./cluster/frontend-link.js');
  const { resolveNodeId } = await import('./cluster/node-id.js');
  let server: RunningServer;
  try {
    server = await startServer(frontendConfig(config, link.index, resolveNodeId(config)), console.log, link);
  } catch (error) {
    // The primary prints the one line, once rather than once per child, and stops the siblings.
    const exitCode = error instanceof ConfigError ? 2 : 1;
    await link.failed(error instanceof Error ? error.message : String(error), exitCode);
    return exitCode;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      server.close().then(resolve, resolve);
    };
    // SIGTERM from the primary; SIGINT from a terminal's Ctrl-C, which reaches the whole process group; and
    // 'disconnect' when the primary is gone (nobody is left to replace or stop this child).
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('disconnect', stop);
  });
  return 0;
}

async function seed(args: string[]): Promise<number> {
  if (args.length !== 1 || asksForHelp(args)) return usage(SEED_USAGE, args);
  const config = loadConfig();
  const { applySeedFile, readSeedFile } = await import('./seed/apply.js');
  // The file first: a mistyped name or an invalid file must not create a data directory, store and root key.
  const keys = readSeedFile(args[0]!);
  const { openEngine } = await import('./server.js');
  const { noteOutsideWrite } = await import('./cluster/outside-writes.js');
  // No root credentials are made here: the server's first start makes, saves and prints them.
  const core = await openEngine(config, console.log, undefined, { createCredentials: false });
  try {
    await applySeedFile(core.engine, args[0]!, console.log, keys);
  } finally {
    // A server running on the same embedded store drops its cached keys and aliases and reads what was written.
    await noteOutsideWrite(core.store).catch(() => {});
    await core.close();
  }
  return 0;
}
