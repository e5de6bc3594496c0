// A minimal signed KMS client over fetch, for the few calls made before a run (CreateKey, DescribeKey, and
// the Encrypt/Sign calls that produce ciphertexts and signatures for the decrypt and verify scenarios).
// Deliberately not the AWS SDK: it signs exactly like the load generators, so setup fails the same way a run would.
import { RequestSigner, type SigningTarget } from './signer.js';

export class KmsCallError extends Error {
  override readonly name = 'KmsCallError';
  constructor(readonly operation: string, readonly status: number, readonly code: string, message: string) {
    super(`${operation} failed: ${code} (HTTP ${status})${message ? `: ${message}` : ''}`);
  }
}

/** The connection ended without an answer (a reset): worth another try, unlike a refused connection. */
class ConnectionDroppedError extends Error {}

/** Errors an AWS SDK retries: the endpoint was busy or briefly failing, the same call may well succeed. */
const RETRYABLE_CODES = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded',
  'KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException']);

const isRetryable = (error: unknown): boolean =>
  error instanceof KmsCallError ? RETRYABLE_CODES.has(error.code) || error.status === 429 || error.status >= 500
    : error instanceof ConnectionDroppedError;

/** Tries per setup call, and the cap of the (jittered, doubling) wait between two. */
export const SETUP_ATTEMPTS = 10;
const MAX_BACKOFF_MS = 2_000;

export class KmsClient {
  private readonly signer: RequestSigner;

  constructor(readonly target: SigningTarget) {
    this.signer = new RequestSigner(target);
  }

  /**
   * One call, retried as an SDK would when the endpoint throttles or briefly fails: the setup of a run (keys,
   * the ciphertexts decrypt needs, the signatures verify needs) makes hundreds of calls, and a pipeline with
   * quotas or injected faults must still get through it. Other errors, and the last try's, are thrown.
   */
  async call<T = Record<string, unknown>>(operation: string, input: object): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.callOnce<T>(operation, input);
      } catch (error) {
        if (attempt >= SETUP_ATTEMPTS || !isRetryable(error)) throw error;
        const backoffMs = Math.min(MAX_BACKOFF_MS, 50 * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * backoffMs));
      }
    }
  }

  private async callOnce<T>(operation: string, input: object): Promise<T> {
    const request = this.signer.sign(operation, JSON.stringify(input));
    const { host: _host, ...headers } = request.headers; // fetch derives Host from the URL, identically
    const url = new URL(request.path, this.target.endpoint);
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers, body: request.body, signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      // fetch says only "fetch failed"; why (refused, certificate, timeout) is in its cause.
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      const code = (cause as { code?: unknown } | undefined)?.code;
      const Failure = code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? ConnectionDroppedError : Error;
      throw new Failure(`${operation} to ${this.target.endpoint} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause: error });
    }
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? JSON.parse(text) as Record<string, unknown> : {};
    } catch {
      throw new KmsCallError(operation, response.status, `HTTP_${response.status}`, 'response is not JSON');
    }
    if (!response.ok) {
      const code = typeof parsed.__type === 'string' ? parsed.__type.split('#').pop()! : `HTTP_${response.status}`;
      const message = typeof parsed.message === 'string' ? parsed.message
        : typeof parsed.Message === 'string' ? parsed.Message : '';
      throw new KmsCallError(operation, response.status, code, message);
    }
    return parsed as T;
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight, keeping the order of results. */
export async function mapConcurrent<I, O>(items: readonly I[], concurrency: number,
  task: (item: I) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}
