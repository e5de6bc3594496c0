// Authenticating a request: SigV4 over exactly the signed headers, with the payload hash computed from the
// body (botocore sends none), the scope's date matching X-Amz-Date, and at most 5 minutes of clock skew
// (kms-api.md section 2). Each failure is the AWS error a real endpoint answers with.
import { timingSafeEqual } from 'node:crypto';
import { ACCESS_KEY_ID_PATTERN } from '../config.js';
import { KmsError } from '../protocol/errors.js';
import type { Principal } from './identities.js';
import {
  canonicalRequest, computeSignature, parseAuthorization, sha256Hex, signaturesEqual, type HeaderLookup,
} from './sigv4.js';

const MAX_SKEW_MS = 5 * 60_000;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

export interface SignedRequest {
  method: string;
  path: string;
  /** The query string as sent, without its '?'; absent or empty when there is none (KMS clients send none). */
  query?: string | undefined;
  header: HeaderLookup;
  body: Uint8Array;
}

/** The last X-Amz-Date read: every request signed in the same second carries the same one. */
let lastStamp = '';
let lastSignedAt = 0;

/**
 * Milliseconds since the epoch of a `yyyymmddThhmmssZ` stamp; undefined when it is not one. The fields must name
 * a real UTC time: Date.UTC rolls hour 42 of one day into the next, so a stamp like `20261201T420000Z` would pass
 * the skew check as a time of 2 December while its date part (the one the credential scope must match) says 1.
 */
function signingTime(stamp: string): number | undefined {
  if (stamp === lastStamp) return lastSignedAt;
  const match = AMZ_DATE.exec(stamp);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const at = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (at.getUTCFullYear() !== year || at.getUTCMonth() !== month - 1 || at.getUTCDate() !== day
    || at.getUTCHours() !== hour || at.getUTCMinutes() !== minute || at.getUTCSeconds() !== second) return undefined;
  lastSignedAt = at.getTime();
  lastStamp = stamp;
  return lastSignedAt;
}

const invalidSignature = (): KmsError => new KmsError('InvalidSignatureException',
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');

/**
 * The engine issues no temporary credentials: a session token is one it knows only when KMS_IDENTITIES gives the
 * principal one. AWS answers a token it does not recognize (a stale AWS_SESSION_TOKEN beside long-term keys, say),
 * and temporary credentials sent without their token, as it answers an unknown access key.
 */
function sessionTokenHolds(principal: Principal, sent: string | undefined): boolean {
  const expected = principal.sessionToken;
  if (expected === undefined) return sent === undefined || sent === '';
  if (sent === undefined) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function authenticate(request: SignedRequest, lookup: (accessKeyId: string) => Principal | undefined,
  now = Date.now()): Principal {
  const authorization = request.header('authorization');
  if (authorization === undefined) {
    throw new KmsError('MissingAuthenticationTokenException', 'Request is missing Authentication Token');
  }
  const parsed = parseAuthorization(authorization);
  if (parsed === null) {
    throw new KmsError('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature parameters in the AWS4-HMAC-SHA256 format.');
  }
  if (parsed.service !== 'kms') {
    throw new KmsError('InvalidSignatureException', "Credential should be scoped to correct service: 'kms'.");
  }
  if (!parsed.signedHeaders.includes('host')) {
    throw new KmsError('IncompleteSignatureException', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const stamp = request.header('x-amz-date');
  const signedAt = stamp === undefined ? undefined : signingTime(stamp);
  if (signedAt === undefined) {
    throw new KmsError('IncompleteSignatureException', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (stamp!.slice(0, 8) !== parsed.date) {
    throw new KmsError('InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.');
  }
  if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
    const fmt = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const relation = signedAt < now ? `earlier than ${fmt(now - MAX_SKEW_MS)} (${fmt(now)} - 5 min.)` : `later than ${fmt(now + MAX_SKEW_MS)} (${fmt(now)} + 5 min.)`;
    throw new KmsError('InvalidSignatureException', `Signature expired: ${stamp} is now ${relation}`);
  }
  const principal = lookup(parsed.accessKeyId);
  if (principal === undefined || !sessionTokenHolds(principal, request.header('x-amz-security-token'))) {
    throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const payloadHash = sha256Hex(request.body);
  const declared = request.header('x-amz-content-sha256');
  // No UNSIGNED-PAYLOAD: the body is what the signature must protect.
  if (declared !== undefined && declared !== payloadHash) {
    throw new KmsError('InvalidSignatureException', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  const canonical = canonicalRequest(request.method, request.path, request.header, parsed.signedHeaders, payloadHash, request.query);
  const expected = computeSignature(principal.secretAccessKey, stamp!, parsed.date, parsed.region, parsed.service, canonical);
  if (!signaturesEqual(expected, parsed.signature)) throw invalidSignature();
  return principal;
}

/**
 * The access key id a request's Authorization header names, whether or not its signature holds; undefined when
 * the header names none or one no AWS access key id could be (letters and digits only). An access key id is not a
 * secret (every audit record of its holder shows it): the audit record of a refused request gives it, so that
 * tries with a leaked key and a wrong or old secret, or with a key since removed, can be found.
 */
export function presentedAccessKeyId(request: Pick<SignedRequest, 'header'>): string | undefined {
  const authorization = request.header('authorization');
  const accessKeyId = authorization === undefined ? undefined : parseAuthorization(authorization)?.accessKeyId;
  return accessKeyId !== undefined && ACCESS_KEY_ID_PATTERN.test(accessKeyId) ? accessKeyId : undefined;
}
