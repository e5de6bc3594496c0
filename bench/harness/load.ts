// One load generator: autocannon fed with pre-signed requests, counting into a LoadRecorder. Runs in the
// harness process, or once per worker thread when one process cannot sign and send fast enough.
import autocannon from 'autocannon';
import { LoadRecorder, type LoadResult } from './recorder.js';
import { PresignedPool, RequestSigner, RESIGN_INTERVAL_MS, type SigningTarget, type WireRequest } from './signer.js';
import type { Workload, WorkloadItem } from './scenarios.js';

export interface LoadSpec {
  target: SigningTarget;
  workload: Workload;
  connections: number;
  /** Fixed arrival rate over all connections (autocannon overallRate); closed loop when absent. */
  rate?: number;
  durationSeconds: number;
  timeoutSeconds: number;
}

export interface LoadProgress {
  elapsedMs: number;
  responses: number;
  ok: number;
  non2xx: number;
  transportErrors: number;
}

/** Per-connection state autocannon keeps in `context` between the steps of one request chain. */
interface ChainContext {
  item?: WorkloadItem;
  operation?: string;
  followUp?: { CiphertextBlob: string; KeyId: string };
}

/** Expands weights into a schedule: encrypt=3,decrypt=1 -> [0, 0, 0, 1]; picked round robin. */
const scheduleOf = (items: readonly WorkloadItem[]): number[] =>
  items.flatMap((item, index) => Array.from({ length: item.weight }, () => index));

export async function runLoad(spec: LoadSpec, onProgress?: (progress: LoadProgress) => void): Promise<LoadResult> {
  const recorder = new LoadRecorder();
  const signer = new RequestSigner(spec.target, (micros) => recorder.recordSigning(micros));
  const pools = new Map(spec.workload.items.map((item) => [item, new PresignedPool(signer, item.operation, item.bodies)]));
  const schedule = scheduleOf(spec.workload.items);
  let cursor = 0;

  const asRequest = (request: autocannon.Request, wire: WireRequest): autocannon.Request =>
    ({ ...request, method: wire.method, path: wire.path, headers: wire.headers, body: wire.body });

  const firstStep = (request: autocannon.Request, context: object): autocannon.Request => {
    const chain = context as ChainContext;
    const item = spec.workload.items[schedule[cursor]!]!;
    cursor = (cursor + 1) % schedule.length;
    chain.item = item;
    chain.operation = item.operation;
    return asRequest(request, pools.get(item)!.next());
  };

  // The envelope's Decrypt carries a ciphertext only known at run time, so it is signed at send time;
  // its cost shows in the report's signing figure. Returning null sends autocannon back to the first step.
  const followUpStep = (request: autocannon.Request, context: object): autocannon.Request => {
    const chain = context as ChainContext;
    const followUp = chain.followUp;
    const encryptionContext = chain.item?.decryptFollowUp?.encryptionContext;
    if (!followUp || !encryptionContext) return null as unknown as autocannon.Request;
    chain.operation = 'Decrypt';
    chain.followUp = undefined;
    const body = JSON.stringify({ CiphertextBlob: followUp.CiphertextBlob, KeyId: followUp.KeyId,
      EncryptionContext: encryptionContext });
    return asRequest(request, signer.sign('Decrypt', body));
  };

  const onResponse = (status: number, body: string, context: object): void => {
    const chain = context as ChainContext;
    recorder.recordResponse(chain.operation ?? 'unknown', status, body);
    if (chain.item?.decryptFollowUp && chain.operation === chain.item.operation && status >= 200 && status < 300) {
      try {
        const parsed = JSON.parse(body) as { CiphertextBlob?: unknown; KeyId?: unknown };
        if (typeof parsed.CiphertextBlob === 'string' && typeof parsed.KeyId === 'string') {
          chain.followUp = { CiphertextBlob: parsed.CiphertextBlob, KeyId: parsed.KeyId };
        }
      } catch {
        // A 2xx that is not JSON cannot be chained; the next request starts a new chain.
      }
    }
  };

  const chained = spec.workload.items.some((item) => item.decryptFollowUp);
  const requests: autocannon.Request[] = [{ setupRequest: firstStep, onResponse }];
  if (chained) requests.push({ setupRequest: followUpStep, onResponse });

  const resign = setInterval(() => { for (const pool of pools.values()) pool.resign(); }, RESIGN_INTERVAL_MS);
  const progress = onProgress ? setInterval(() => onProgress(recorder.progress()), 1000) : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const instance = autocannon({
        url: spec.target.endpoint, connections: spec.connections, duration: spec.durationSeconds,
        timeout: spec.timeoutSeconds, requests, method: 'POST',
        ...(spec.rate ? { overallRate: spec.rate } : {}),
      }, (error) => (error ? reject(error) : resolve()));
      instance.on('response', (_client, _status, _bytes, milliseconds) => recorder.recordLatency(milliseconds));
      instance.on('reqError', (error: Error) => recorder.recordTransportError(error?.message === 'request timed out'));
    });
  } finally {
    clearInterval(resign);
    if (progress) clearInterval(progress);
  }
  return recorder.result();
}
