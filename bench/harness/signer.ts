// Signs KMS requests for the load generators with the engine's own SigV4 code (botocore-style headers), and
// keeps the pre-signed pools fresh: a signature is accepted for minutes, so signing a few hundred distinct
// bodies up front and re-signing them every minute takes signing off the hot path (one process signs only
// ~1,500 req/s with the AWS SDK, ceilings.md).
import { performance } from 'node:perf_hooks';
import { signKmsRequest } from '../../src/auth/sigv4.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SigningTarget {
  /** Base URL of the endpoint, e.g. http://127.0.0.1:8080 (a path prefix is kept, as the JS SDK does). */
  endpoint: string;
  region: string;
  credentials: Credentials;
}

/** The raw request autocannon writes on the wire. */
export interface WireRequest {
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type SigningObserver = (micros: number) => void;

/** Host and path as a client sends them for this endpoint (the JS SDK posts to `/prefix/` under a path prefix). */
export function endpointParts(endpoint: string): { host: string; path: string } {
  const url = new URL(endpoint);
  const path = url.pathname === '/' || url.pathname === '' ? '/' : url.pathname.replace(/\/?$/, '/');
  return { host: url.host, path };
}

export class RequestSigner {
  private readonly host: string;
  private readonly path: string;

  constructor(private readonly target: SigningTarget, private readonly observe: SigningObserver = () => {}) {
    ({ host: this.host, path: this.path } = endpointParts(target.endpoint));
  }

  /** A signed `TrentService.<operation>` request for this JSON body, timed for the signing-cost figure. */
  sign(operation: string, body: string): WireRequest {
    const started = performance.now();
    const headers = signKmsRequest({
      host: this.host, path: this.path, target: `TrentService.${operation}`, body,
      accessKeyId: this.target.credentials.accessKeyId, secretAccessKey: this.target.credentials.secretAccessKey,
      region: this.target.region,
    });
    this.observe((performance.now() - started) * 1000);
    return { method: 'POST', path: this.path, headers, body };
  }
}

export const RESIGN_INTERVAL_MS = 60_000;

/** Distinct bodies of one operation, signed ahead of time and handed out round robin. */
export class PresignedPool {
  private signed: WireRequest[] = [];
  private cursor = 0;

  constructor(private readonly signer: RequestSigner, readonly operation: string,
    private readonly bodies: readonly string[]) {
    if (bodies.length === 0) throw new Error(`no request bodies for ${operation}`);
    this.resign();
  }

  /** Re-signs every body with the current time; called every RESIGN_INTERVAL_MS while a run lasts. */
  resign(): void {
    this.signed = this.bodies.map((body) => this.signer.sign(this.operation, body));
  }

  next(): WireRequest {
    const request = this.signed[this.cursor]!;
    this.cursor = (this.cursor + 1) % this.signed.length;
    return request;
  }
}
