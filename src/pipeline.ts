// handleKms: the one straight-line path every AWS JSON 1.1 request takes. Target -> SigV4 -> decode against
// the model -> request quota -> operation (which resolves its key once, authorizes, and runs crypto in a
// worker) -> audit record (part of the call: no record, no success) -> metrics -> response.
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { buildAuditRecord, type TlsDetails } from './audit/record.js';
import type { AuditLog } from './audit/log.js';
import { authenticate, presentedAccessKeyId } from './auth/authenticate.js';
import type { Principal } from './auth/identities.js';
import type { HeaderLookup } from './auth/sigv4.js';
import { ERROR_STATUS } from './contract/errors.js';
import { TRACKED_OPERATIONS } from './keys/usage-tracker.js';
import { RESET_OUTCOME, type Metrics } from './metrics/registry.js';
import { dryRunWouldSucceed, RequestContext, type Engine } from './operations/context.js';
import { operationNamed } from './operations/index.js';
import { KmsError } from './protocol/errors.js';
import { hasLoneSurrogate } from './protocol/lone-surrogates.js';
import { decodeInput } from './protocol/validate.js';
import { isCryptoOperation, isKeyedCryptoOperation } from './quota/classes.js';

const TARGET_PREFIX = 'TrentService.';

export interface Realism {
  /** Added latency for this operation, in milliseconds (0 = none). */
  delayMs(operation: string): number;
  /** An injected failure for this request, if one is drawn. */
  draw(operation: string): { kind: 'error'; code: string; message: string } | { kind: 'reset' } | undefined;
}

export interface Pipeline {
  engine: Engine;
  lookupPrincipal(accessKeyId: string): Principal | undefined;
  metrics: Metrics;
  audit: AuditLog;
  realism?: Realism;
  nodeId?: string;
}

export interface KmsRequest {
  method: string;
  path: string;
  /** The query string as sent, without its '?' (SigV4 signs it). */
  query?: string | undefined;
  header: HeaderLookup;
  body: Buffer;
  sourceIp: string;
  /** How the request came over HTTPS (the audit record's tlsDetails); undefined over plain HTTP. */
  tlsDetails?: TlsDetails | undefined;
  /**
   * A refusal the transport decided before the body was read (a body past KMS_MAX_BODY_BYTES): answered and
   * recorded as it is, the caller unauthenticated, as its signature over the body cannot be checked.
   */
  refusal?: KmsError | undefined;
}

export interface KmsResponse {
  status: number;
  requestId: string;
  body: string;
  /** Fault injection: drop the connection instead of answering. */
  reset?: boolean;
}

/**
 * How much of an operation name that does not exist the audit record keeps: the longest real one has 35
 * characters, and X-Amz-Target is the caller's to fill (up to Node's 16 KB of headers), unauthenticated or not.
 */
const MAX_RECORDED_UNKNOWN_OPERATION = 128;

export async function handleKms(pipeline: Pipeline, request: KmsRequest): Promise<KmsResponse> {
  const startedAt = performance.now();
  const requestId = randomUUID();
  const target = request.header('x-amz-target') ?? '';
  const operationName = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
  let principal: Principal | undefined;
  let input: Record<string, unknown> | undefined;
  // The request as the client sent it, parsed: what the audit record shows when the model refuses it (decodeInput).
  let sent: unknown;
  let ctx: RequestContext | undefined;
  let output: Record<string, unknown> | undefined;
  let failure: KmsError | undefined;
  const operation = operationNamed(operationName);
  try {
    if (request.refusal !== undefined) throw request.refusal;
    if (operation === undefined) {
      // The answer is the same whoever asks, but the record names the caller when its signature holds: a probe
      // for operations with a leaked key is the key's holder's event, not an anonymous one.
      try {
        principal = authenticate(request, pipeline.lookupPrincipal);
      } catch {
        // recorded as an unauthenticated caller
      }
      throw new KmsError('UnknownOperationException', 'X-Amz-Target does not name a TrentService operation.');
    }
    // KMS_LATENCY stands for the network and service time of AWS, which every answer pays: it comes before
    // anything can refuse the request, so throttles, injected faults and errors wait like successes do.
    const delay = pipeline.realism?.delayMs(operationName) ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    principal = authenticate(request, pipeline.lookupPrincipal);
    sent = parseJson(request.body);
    input = decodeInput(operationName, sent);
    // Crypto operations charge their key's class once the key is known (RequestContext.useKey); the rest their own.
    if (!isCryptoOperation(operationName)) pipeline.engine.quotas.take(principal.accountId, [operationName]);
    const injected = pipeline.realism?.draw(operationName);
    if (injected?.kind === 'reset') {
      // No answer and no audit record (the call never completed, as when a load balancer drops it), but the
      // server did receive it: its metrics count it, so a load test can match them with the resets it saw.
      pipeline.metrics.observeRequest(operationName, '', RESET_OUTCOME, (performance.now() - startedAt) / 1000);
      return { status: 0, requestId, body: '', reset: true };
    }
    // An injected error answers at once, except on a cryptographic operation on a key: there it answers once the key
    // is resolved, where a quota throttle would (RequestContext.injectFaultAtKey), so that its audit record names
    // the key and its metrics the key spec as a real one's do.
    const fault = injected?.kind === 'error' ? new KmsError(injected.code as KmsError['code'], injected.message) : undefined;
    if (fault !== undefined && !isKeyedCryptoOperation(operationName)) throw fault;
    ctx = new RequestContext(pipeline.engine, principal, operationName, input, request.sourceIp, request.tlsDetails !== undefined);
    if (fault !== undefined) ctx.injectFaultAtKey(fault);
    try {
      output = await operation.run(input, ctx);
    } catch (error) {
      // A call that failed before its key was known (no such key, a malformed ciphertext) still answers with its
      // injected fault: every draw that hits is answered with it, as before.
      throw ctx.takeInjectedFault() ?? error;
    }
    // A dry run that got this far checked everything the call would (RequestContext.job); its result is dropped.
    if (input.DryRun === true) {
      output = undefined;
      throw dryRunWouldSucceed();
    }
  } catch (error) {
    failure = asKmsError(error);
  }
  // Every call is recorded, one for an operation that does not exist too (named as sent: what was tried).
  try {
    const eventTime = new Date();
    const record = buildAuditRecord({
      operation: operation !== undefined ? operationName : (operationName || target).slice(0, MAX_RECORDED_UNKNOWN_OPERATION),
      requestId,
      eventTime,
      principal,
      presentedAccessKeyId: principal === undefined ? presentedAccessKeyId(request) : undefined,
      sourceIPAddress: request.sourceIp,
      userAgent: request.header('user-agent') ?? '',
      region: pipeline.engine.config.region,
      // A request the model refused is logged as sent: CloudTrail still names what was asked of which key.
      // The audit filter (audit/shapes.ts) keeps only model members of the right type, never blobs or secrets.
      request: input ?? (isPlainObject(sent) ? sent : undefined),
      response: output,
      error: failure === undefined ? undefined : { code: failure.code, message: failure.message },
      keyArns: ctx?.keyArns ?? [],
      aliasArns: ctx?.aliasArns,
      // Only a call that succeeded used its key material.
      keyMaterial: failure === undefined ? ctx : undefined,
      // An operation that does not exist read and changed nothing.
      readOnly: operation?.readOnly ?? true,
      nodeId: pipeline.nodeId,
      tlsDetails: request.tlsDetails,
    });
    await pipeline.audit.append(record);
    // A use counts once it is recorded, like the call itself (GetKeyLastUsage names its audit event).
    if (failure === undefined && ctx !== undefined && TRACKED_OPERATIONS.has(operationName)) {
      pipeline.engine.keyUsage.note(ctx.keyArns, operationName, eventTime.getTime() / 1000, record.eventID, requestId);
    }
  } catch (error) {
    // Writing the audit record is part of the call: unrecorded means failed.
    failure = asKmsError(error);
    failure = failure.code === 'KMSInternalException' ? failure
      : new KmsError('KMSInternalException', 'The request could not be recorded in the audit log.');
  }
  const seconds = (performance.now() - startedAt) / 1000;
  pipeline.metrics.observeRequest(operationName || 'Unknown', ctx?.keySpec ?? '', failure?.code ?? 'ok', seconds);
  if (failure !== undefined) {
    return { status: ERROR_STATUS[failure.code], requestId, body: JSON.stringify({ __type: failure.code, message: failure.message }) };
  }
  return { status: 200, requestId, body: output === undefined ? '{}' : JSON.stringify(output) };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  // Decoding would turn each invalid byte into U+FFFD: a Description, tag or encryption context stored or matched
  // as something other than what was sent, and two different contexts read as one. Refused, as AWS's parser does.
  if (!isUtf8(body)) throw new KmsError('SerializationException', 'The request body is not valid UTF-8.');
  const text = body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KmsError('SerializationException', 'The request body is not valid JSON.');
  }
  // The same through an escape: "\ud800" would be kept as U+FFFD, so {"\ud800":"x"} and {"\udfff":"x"} would be
  // one encryption context (lone-surrogates.ts).
  if (hasLoneSurrogate(text, value)) throw new KmsError('SerializationException', 'The request body holds a lone surrogate escape: not valid Unicode.');
  return value;
}

function asKmsError(error: unknown): KmsError {
  if (error instanceof KmsError) return error;
  // Log the failure's kind, code and place, never its message: it could quote request data. The code (a fixed
  // name such as SQLITE_FULL, SQLITE_READONLY or ENOSPC) is what tells an operator the disk is full.
  const code = (error as { code?: unknown } | undefined)?.code;
  const kind = error instanceof Error ? error.name : typeof error;
  console.error(`kms-engine: internal error: ${kind}${typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? ` (${code})` : ''}`,
    error instanceof Error ? error.stack?.split('\n').slice(1, 4).join(' | ') : '');
  return new KmsError('KMSInternalException', 'The request failed because of an internal error.');
}
