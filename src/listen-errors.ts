// Why the HTTP listener could not start, as the one line interface.md promises: it names the variable to change
// (PORT or HOST) and keeps the system's code, instead of Node's "listen EADDRINUSE: address already in use ...".
import { ConfigError } from './config.js';

export function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`PORT: ${where} is already in use (EADDRINUSE)`);
    case 'EACCES':
      return new ConfigError(`PORT: no permission to listen on ${where} (EACCES; ports below 1024 need privileges)`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`HOST: ${host} is not an address of this machine (EADDRNOTAVAIL)`);
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_FAIL': case 'EAI_NONAME': case 'EAI_NODATA':
      return new ConfigError(`HOST: ${host} does not resolve to an address (${code})`);
    case 'EAFNOSUPPORT':
      return new ConfigError(`HOST: ${host} is of an address family this machine does not support (EAFNOSUPPORT)`);
    default:
      return new ConfigError(`HOST/PORT: cannot listen on ${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
