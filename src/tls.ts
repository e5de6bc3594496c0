// KMS_TLS_CERT / KMS_TLS_KEY: serve HTTPS, TLS 1.2 and later only (the floor AWS's own endpoints and SDKs keep).
// Read and checked once at start, before anything else opens, so a missing file, a key that does not match the
// certificate or PEM that does not parse stops the server with one line naming the variable.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ConfigError, type Config } from './config.js';

export const TLS_MIN_VERSION = 'TLSv1.2';

export interface TlsListenOptions {
  createServer: typeof createHttpsServer;
  serverOptions: ServerOptions;
}

/** The @hono/node-server options that make it listen with HTTPS; undefined for plain HTTP. */
export function loadTlsOptions(config: Pick<Config, 'tlsCert' | 'tlsKey'>): TlsListenOptions | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const cert = readPem(config.tlsCert, 'KMS_TLS_CERT');
  const key = readPem(config.tlsKey, 'KMS_TLS_KEY');
  const serverOptions: ServerOptions = { cert, key, minVersion: TLS_MIN_VERSION };
  try {
    createSecureContext(serverOptions);
  } catch (error) {
    // OpenSSL's reason (e.g. "key values mismatch") names no secret.
    throw new ConfigError(`KMS_TLS_CERT/KMS_TLS_KEY: not a usable certificate and private key: ${(error as Error).message}`);
  }
  // OpenSSL compares a key only with a certificate of its own type: an RSA key beside an EC certificate was
  // accepted, and the server then failed every handshake. The (first, leaf) certificate must be the key's.
  if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
    throw new ConfigError('KMS_TLS_CERT/KMS_TLS_KEY: not a usable certificate and private key: the private key is not the certificate\'s');
  }
  return { createServer: createHttpsServer, serverOptions };
}

function readPem(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

/** The warning a server without TLS prints once it listens on an address other machines can reach. */
export function plainHttpWarning(config: Pick<Config, 'tlsCert' | 'host'>): string | undefined {
  if (config.tlsCert !== undefined || isLoopback(config.host)) return undefined;
  return `kms-engine: warning: serving plain HTTP on ${config.host}, which is not a loopback address; set KMS_TLS_CERT and KMS_TLS_KEY`;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host.startsWith('127.');
