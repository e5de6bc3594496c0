// Builds one CloudTrail-shaped audit record per KMS call (kms-api.md section 10). The record never holds
// plaintext, ciphertext, messages, signatures, MACs, key material, import material or grant tokens:
// requestParameters go through the model-driven filter in shapes.ts, and responseElements are an allow-list
// (RESPONSE_ELEMENTS) because outputs are where the secrets are (Plaintext, PrivateKeyPlaintext, GrantToken...).
//
// buildAuditRecord writes every object of the record with its keys in sorted order, the order canonicalJson
// puts them in, and tells the chain so (a SortedRecord), with a serializer that knows the record's shape: member
// names and constant values are literal text, and the parts records share (a principal's userIdentity, a key's
// resource entry) are frozen objects whose JSON is made once. That is about a third of the cost of
// canonicalJson's sort-and-concatenate walk. A record is not changed once built (the pipeline appends it as is).

import { randomUUID } from 'node:crypto';
import { decodeGrantToken } from '../auth/grants.js';
import { principalIdOf, roleIdOf } from '../auth/principal-id.js';
import { parsePrincipalArn } from '../auth/policy/principal-arn.js';
import { isCryptoOperation } from '../quota/classes.js';
import { SortedRecord } from './chain.js';
import { requestElements, responseElements, type KeyOrder } from './shapes.js';

export const EVENT_VERSION = '1.11';
export const EVENT_SOURCE = 'kms.amazonaws.com';

export interface AuditPrincipal {
  arn: string;
  accountId: string;
  accessKeyId: string;
  /** CloudTrail identity type: Root, IAMUser, AssumedRole, AWSService... */
  type: string;
  userName?: string;
}

export interface AuditUserIdentity {
  type: string;
  principalId?: string;
  arn?: string;
  accountId?: string;
  accessKeyId?: string;
  sessionContext?: AuditSessionContext;
  userName?: string;
  invokedBy?: string;
}

/** How a role session's credentials were obtained: CloudTrail's userIdentity.sessionContext, keys sorted. */
export interface AuditSessionContext {
  attributes: { mfaAuthenticated: 'false' };
  sessionIssuer: { accountId: string; arn: string; principalId: string; type: 'Role'; userName: string };
  webIdFederationData: Record<string, never>;
}

/**
 * The key material a call used, by role: a symmetric encryption key's (Encrypt, Decrypt, GenerateDataKey*), or
 * ReEncrypt's source and destination. Material ids are not secret (DescribeKey shows a key's current one).
 */
export interface KeyMaterialUsed {
  readonly keyMaterialId?: string | undefined;
  readonly sourceKeyMaterialId?: string | undefined;
  readonly destinationKeyMaterialId?: string | undefined;
}

export interface AuditResource {
  accountId: string;
  type: 'AWS::KMS::Key' | 'AWS::KMS::Alias';
  ARN: string;
}

export interface TlsDetails {
  tlsVersion: string;
  cipherSuite: string;
  clientProvidedHostHeader: string;
}

/** A CloudTrail event as written to the audit log (the log adds its `chain` member). */
export interface AuditRecord {
  eventVersion: string;
  userIdentity: AuditUserIdentity;
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress: string;
  userAgent: string;
  errorCode?: string;
  errorMessage?: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: Record<string, unknown> | null;
  additionalEventData?: Record<string, unknown>;
  requestID: string;
  eventID: string;
  readOnly: boolean;
  resources: AuditResource[];
  eventType: 'AwsApiCall' | 'AwsServiceEvent';
  managementEvent: true;
  recipientAccountId?: string;
  serviceEventDetails?: Record<string, unknown>;
  eventCategory: 'Management';
  tlsDetails?: TlsDetails;
}

export interface AuditCall {
  operation: string;
  requestId: string;
  eventTime: Date;
  /** undefined when authentication failed. */
  principal: AuditPrincipal | undefined;
  /** When authentication failed: the access key id the request was signed with, if it named one (not secret). */
  presentedAccessKeyId?: string | undefined;
  sourceIPAddress: string;
  userAgent: string;
  region: string;
  /** The decoded request body, PascalCase members as on the wire; undefined when it could not be decoded. */
  request: Record<string, unknown> | undefined;
  /** The wire output, PascalCase; absent on failure. */
  response?: Record<string, unknown>;
  error?: { code: string; message: string };
  /** ARNs of the keys the call touched (resolved, not as the caller named them). */
  keyArns: string[];
  aliasArns?: string[];
  readOnly: boolean;
  /** Which engine node served the call (several nodes can share one key store). */
  nodeId?: string;
  /** The key material a successful call used (additionalEventData); the operation knows it, its output may not. */
  keyMaterial?: KeyMaterialUsed;
  /** Extra non-secret facts only the pipeline knows, e.g. the grantId a RetireGrant by token resolved to. */
  additionalEventData?: Record<string, unknown>;
  /** How the call came over HTTPS; absent over plain HTTP. */
  tlsDetails?: TlsDetails | undefined;
}

/**
 * Output members CloudTrail records for management operations. Everything else (every cryptographic
 * operation, GetKeyPolicy, Describe/List/Get) logs `responseElements: null`.
 */
const RESPONSE_ELEMENTS: Readonly<Record<string, readonly string[]>> = {
  CreateKey: ['KeyMetadata'],
  ReplicateKey: ['ReplicaKeyMetadata'],
  CreateGrant: ['GrantId'],
  ScheduleKeyDeletion: ['KeyId', 'KeyState', 'DeletionDate', 'PendingWindowInDays'],
  CancelKeyDeletion: ['KeyId'],
  ImportKeyMaterial: ['KeyId', 'KeyMaterialId'],
  DeleteImportedKeyMaterial: ['KeyId', 'KeyMaterialId'],
  RotateKeyOnDemand: ['KeyId'],
  CreateCustomKeyStore: ['CustomKeyStoreId'],
};

/**
 * Request members the engine defaults when the caller leaves them out (the model's documented defaults, which
 * the operations apply): CloudTrail shows the algorithm a call used, `"encryptionAlgorithm": "SYMMETRIC_DEFAULT"`,
 * and the message type Sign and Verify read the message as (kms-api.md section 10: `{keyId, signingAlgorithm,
 * messageType}`), `"messageType": "RAW"`.
 */
const REQUEST_DEFAULTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Encrypt: { EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  Decrypt: { EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  ReEncrypt: { SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  Sign: { MessageType: 'RAW' },
  Verify: { MessageType: 'RAW' },
};

/** Operations whose requestParameters CloudTrail logs as null (their inputs are a size or a bearer token). */
const NULL_REQUEST_PARAMETERS: ReadonlySet<string> = new Set(['GenerateRandom', 'RetireGrant']);

/**
 * CloudTrail's readOnly flag: true for cryptographic operations (they change no resource) and for
 * Describe/Get/List calls; false for everything that creates, changes or deletes something.
 */
export const isReadOnlyOperation = (operation: string): boolean =>
  isCryptoOperation(operation) || /^(Describe|Get|List)[A-Z]/.test(operation);

/** The last eventTime rendered: a busy server logs many calls within one second. */
let lastEventSecond = Number.NaN;
let lastEventTime = '';

/** ISO-8601 UTC to the second, as CloudTrail writes eventTime: 2024-05-01T12:34:56Z. */
export const cloudTrailEventTime = (date: Date): string => {
  // An invalid date (NaN) never matches, so it still throws from toISOString as before.
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastEventSecond) {
    lastEventTime = `${date.toISOString().slice(0, 19)}Z`;
    lastEventSecond = second;
  }
  return lastEventTime;
};

/** The account of an ARN (`arn:aws:kms:region:ACCOUNT:key/...`), or undefined: its fifth ':'-separated field. */
export const arnAccount = (arn: string): string | undefined => {
  // By index rather than split(':'): this runs for every key of every record.
  let start = -1;
  for (let field = 0; field < 4; field++) {
    start = arn.indexOf(':', start + 1);
    if (start < 0) return undefined;
  }
  const end = arn.indexOf(':', start + 1);
  const account = end < 0 ? arn.slice(start + 1) : arn.slice(start + 1, end);
  return account === '' ? undefined : account;
};

/** The JSON of the frozen objects records share, made once when the object is. */
const sharedJson = new WeakMap<object, string>();

function shared<T extends object>(value: T): T {
  sharedJson.set(Object.freeze(value), JSON.stringify(value));
  return value;
}

/**
 * Keys sorted, as in every object of a record: accessKeyId, accountId, arn, principalId, sessionContext, type,
 * userName. Made once per principal (userIdentityOf), so deriving the principalId costs nothing per request.
 */
function userIdentityFrom(principal: AuditPrincipal): AuditUserIdentity {
  const identity = {} as AuditUserIdentity;
  identity.accessKeyId = principal.accessKeyId;
  identity.accountId = principal.accountId;
  identity.arn = principal.arn;
  const principalId = principalIdOf(principal.type, principal.arn, principal.accountId);
  if (principalId !== undefined) identity.principalId = principalId;
  if (principal.type === 'AssumedRole') {
    const sessionContext = sessionContextOf(principal.arn);
    if (sessionContext !== undefined) identity.sessionContext = sessionContext;
  }
  identity.type = principal.type;
  if (principal.userName !== undefined) identity.userName = principal.userName;
  return shared(identity);
}

/**
 * A role session's sessionContext, as CloudTrail gives it: the role that issued the session (sessionIssuer, the
 * question an investigation asks of every AssumedRole record: which role, not which session name) and no MFA.
 * The engine's sessions are configured, not issued by STS, so there is no creationDate to give.
 */
function sessionContextOf(sessionArn: string): AuditSessionContext | undefined {
  const parsed = parsePrincipalArn(sessionArn);
  if (parsed?.roleArn === undefined || parsed.name === undefined) return undefined;
  return {
    attributes: { mfaAuthenticated: 'false' },
    sessionIssuer: { accountId: parsed.accountId, arn: parsed.roleArn, principalId: roleIdOf(parsed.roleArn), type: 'Role', userName: parsed.name },
    webIdFederationData: {},
  };
}

/**
 * One frozen userIdentity per principal, shared by its records. Checked against the principal's fields on each
 * use, so a principal object that changed (or a caller reusing one) gets a fresh identity.
 */
const identities = new WeakMap<AuditPrincipal, AuditUserIdentity>();
const UNKNOWN_IDENTITY: AuditUserIdentity = shared({ type: 'Unknown' });

function userIdentityOf(principal: AuditPrincipal | undefined, presentedAccessKeyId: string | undefined): AuditUserIdentity {
  // An unauthenticated caller has no identity we can vouch for: CloudTrail's "Unknown" type, with the access key
  // id it signed with (keys sorted), which is what shows a leaked key tried with a wrong, old or guessed secret.
  if (principal === undefined) {
    return presentedAccessKeyId === undefined ? UNKNOWN_IDENTITY : { accessKeyId: presentedAccessKeyId, type: 'Unknown' };
  }
  let identity = identities.get(principal);
  if (identity === undefined || identity.arn !== principal.arn || identity.accountId !== principal.accountId
    || identity.accessKeyId !== principal.accessKeyId || identity.type !== principal.type
    || identity.userName !== principal.userName) {
    identity = userIdentityFrom(principal);
    identities.set(principal, identity);
  }
  return identity;
}

/** One frozen resource entry per ARN, shared by the records of a hot set of keys (bounded: ARNs come and go). */
const RESOURCE_CACHE_LIMIT = 50_000; // as many keys as the compiled-policy cache (auth/authorize.ts)
const keyResources = new Map<string, AuditResource>();
const aliasResources = new Map<string, AuditResource>();

function resourceOf(cache: Map<string, AuditResource>, ARN: string, type: AuditResource['type']): AuditResource {
  let resource = cache.get(ARN);
  if (resource === undefined) {
    // Keys sorted: ARN, accountId, type (upper case sorts first).
    resource = shared({ ARN, accountId: arnAccount(ARN) ?? '', type });
    if (cache.size >= RESOURCE_CACHE_LIMIT) cache.clear();
    cache.set(ARN, resource);
  }
  return resource;
}

function resourcesOf(keyArns: readonly string[], aliasArns: readonly string[]): AuditResource[] {
  const resources: AuditResource[] = [];
  for (const ARN of keyArns) resources.push(resourceOf(keyResources, ARN, 'AWS::KMS::Key'));
  for (const ARN of aliasArns) resources.push(resourceOf(aliasResources, ARN, 'AWS::KMS::Alias'));
  return resources;
}

/** `object` (its keys sorted) with one more member, its keys still sorted. */
function withSortedMember(object: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const keys = Object.keys(object);
  if (keys.length === 0 || keys[keys.length - 1]! < key) {
    object[key] = value;
    return object;
  }
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const existing of keys) {
    if (!placed && existing > key) {
      out[key] = value;
      placed = true;
    }
    out[existing] = object[existing];
  }
  if (!placed) out[key] = value;
  return out;
}

function requestParametersOf(e: AuditCall, order: KeyOrder): Record<string, unknown> | null {
  if (e.request === undefined || NULL_REQUEST_PARAMETERS.has(e.operation)) return null;
  const defaults = Object.hasOwn(REQUEST_DEFAULTS, e.operation) ? REQUEST_DEFAULTS[e.operation] : undefined;
  const parameters = requestElements(e.operation, e.request, order, defaults);
  // CloudTrail names the key a Decrypt used by its ARN, also when the caller left KeyId out (symmetric
  // ciphertext self-describes its key) or named it by key id or alias.
  if (e.operation === 'Decrypt' && e.keyArns.length === 1) {
    if (parameters.keyId === undefined) return withSortedMember(parameters, 'keyId', e.keyArns[0]);
    parameters.keyId = e.keyArns[0];
  }
  return parameters;
}

/**
 * The grant a RetireGrant names: its GrantId, or the id inside its GrantToken (the token itself is a bearer
 * credential and never logged; the id is not secret, and CloudTrail records it either way).
 */
function retiredGrantId(request: Record<string, unknown> | undefined): string | undefined {
  if (typeof request?.GrantId === 'string') return request.GrantId;
  if (typeof request?.GrantToken !== 'string') return undefined;
  try {
    return decodeGrantToken(request.GrantToken).grantId;
  } catch {
    return undefined; // a malformed token: the call failed with InvalidGrantTokenException, logged as such
  }
}

/** Members written in sorted order: destinationKeyMaterialId, grantId, keyMaterialId, nodeId, sourceKeyMaterialId. */
function additionalEventDataOf(e: AuditCall): Record<string, unknown> | undefined {
  const data: Record<string, unknown> = {};
  const material = e.keyMaterial;
  if (material?.destinationKeyMaterialId !== undefined) data.destinationKeyMaterialId = material.destinationKeyMaterialId;
  if (e.operation === 'RetireGrant') {
    const grantId = retiredGrantId(e.request);
    if (grantId !== undefined) data.grantId = grantId;
  }
  if (material?.keyMaterialId !== undefined) data.keyMaterialId = material.keyMaterialId;
  if (e.nodeId !== undefined) data.nodeId = e.nodeId;
  if (material?.sourceKeyMaterialId !== undefined) data.sourceKeyMaterialId = material.sourceKeyMaterialId;
  if (e.additionalEventData !== undefined) {
    Object.assign(data, e.additionalEventData);
    if (e.nodeId !== undefined) data.nodeId = e.nodeId; // the serving node is the engine's to say
  }
  const keys = Object.keys(data);
  if (keys.length === 0) return undefined;
  if (isSorted(keys)) return data;
  const sorted: Record<string, unknown> = {};
  for (const key of keys.sort()) sorted[key] = data[key];
  return sorted;
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/** A record buildAuditRecord built in sorted key order, serialized by auditRecordJson. */
class SortedAuditRecord extends SortedRecord {
  override toCanonicalJson(): string {
    return auditRecordJson(this as unknown as AuditRecord);
  }
}

/** Cleared by quoted() when a member that should be a string is not (a caller outside the types). */
let allStrings = true;

function quoted(value: string): string {
  if (typeof value !== 'string') allStrings = false;
  return JSON.stringify(value);
}

/**
 * The JSON of a member whose value mostly repeats from one record to the next (region, operation, account, the
 * client's address and user agent), kept for its last value: a string compare instead of an escaping pass and a
 * new string per record.
 */
class RepeatedMember {
  #value: string | undefined;
  #json = '';

  json(value: string): string {
    if (value === this.#value) return this.#json;
    const json = quoted(value);
    if (typeof value === 'string') {
      this.#value = value;
      this.#json = json;
    }
    return json;
  }
}

const repeated = {
  awsRegion: new RepeatedMember(), eventName: new RepeatedMember(), recipientAccountId: new RepeatedMember(),
  sourceIPAddress: new RepeatedMember(), userAgent: new RepeatedMember(),
};

/** The JSON of a record's array of shared resource entries. */
function resourcesJson(resources: readonly AuditResource[]): string {
  let out = '[';
  for (let i = 0; i < resources.length; i++) {
    const resource = resources[i]!;
    out += `${i === 0 ? '' : ','}${sharedJson.get(resource) ?? JSON.stringify(resource)}`;
  }
  return `${out}]`;
}

/**
 * canonicalJson of a record buildAuditRecord made in sorted key order: its members in the order buildAuditRecord
 * assigns them. Members that are ours (eventID from randomUUID, eventTime from cloudTrailEventTime) need no
 * escaping. Whatever this does not expect, a member it does not write or a value of another type, sends the
 * record to JSON.stringify, which is exact for any record in sorted key order, only slower.
 */
function auditRecordJson(r: AuditRecord): string {
  allStrings = true;
  let members = 17;
  let out = '{';
  if (r.additionalEventData !== undefined) {
    out += `"additionalEventData":${JSON.stringify(r.additionalEventData)},`;
    members += 1;
  }
  out += `"awsRegion":${repeated.awsRegion.json(r.awsRegion)}`;
  if (r.errorCode !== undefined) {
    out += `,"errorCode":${quoted(r.errorCode)},"errorMessage":${quoted(r.errorMessage!)}`;
    members += 2;
  }
  out += `,"eventCategory":"Management","eventID":"${r.eventID}","eventName":${repeated.eventName.json(r.eventName)}`
    + `,"eventSource":"${EVENT_SOURCE}","eventTime":"${r.eventTime}","eventType":"AwsApiCall","eventVersion":"${EVENT_VERSION}"`
    + `,"managementEvent":true,"readOnly":${r.readOnly === true ? 'true' : 'false'}`;
  if (r.recipientAccountId !== undefined) {
    out += `,"recipientAccountId":${repeated.recipientAccountId.json(r.recipientAccountId)}`;
    members += 1;
  }
  out += `,"requestID":${quoted(r.requestID)},"requestParameters":${JSON.stringify(r.requestParameters)}`
    + `,"resources":${resourcesJson(r.resources)},"responseElements":${JSON.stringify(r.responseElements)}`
    + `,"sourceIPAddress":${repeated.sourceIPAddress.json(r.sourceIPAddress)}`;
  if (r.tlsDetails !== undefined) {
    const tls = r.tlsDetails;
    out += `,"tlsDetails":{"cipherSuite":${quoted(tls.cipherSuite)},"clientProvidedHostHeader":${quoted(tls.clientProvidedHostHeader)}`
      + `,"tlsVersion":${quoted(tls.tlsVersion)}}`;
    members += 1;
  }
  out += `,"userAgent":${repeated.userAgent.json(r.userAgent)}`
    + `,"userIdentity":${sharedJson.get(r.userIdentity) ?? JSON.stringify(r.userIdentity)}}`;
  if (!allStrings || typeof r.readOnly !== 'boolean' || Object.keys(r).length !== members) return JSON.stringify(r);
  return out;
}

/** tlsDetails with its keys in sorted order, whatever order the caller wrote them in. */
const tlsDetailsOf = (tls: TlsDetails): TlsDetails =>
  ({ cipherSuite: tls.cipherSuite, clientProvidedHostHeader: tls.clientProvidedHostHeader, tlsVersion: tls.tlsVersion });

/** One CloudTrail `AwsApiCall` record for a KMS request, successful or not. */
export function buildAuditRecord(e: AuditCall): AuditRecord {
  const order: KeyOrder = { sorted: true };
  const allowed = RESPONSE_ELEMENTS[e.operation];
  let responseElementsValue = e.error === undefined && e.response !== undefined && allowed !== undefined
    ? responseElements(e.operation, e.response, allowed, order)
    : null;
  // CloudTrail adds the grant's key by ARN to CreateGrant's responseElements (since December 2022), although the
  // response has no key: a grant given to an outsider is found by the key it opens, whatever the caller named.
  if (responseElementsValue !== null && e.operation === 'CreateGrant' && e.keyArns.length === 1) {
    responseElementsValue = withSortedMember(responseElementsValue, 'keyId', e.keyArns[0]);
  }
  const requestParameters = requestParametersOf(e, order);
  const additionalEventData = additionalEventDataOf(e);
  const resources = resourcesOf(e.keyArns, e.aliasArns ?? []);
  // The key owner's account receives the event; with no key involved, the caller's. (The first resource is the
  // first key's, its accountId '' when the ARN names none.) A refused call goes to the caller's account only
  // (kms-api.md section 10): another account's refused attempts are not the key owner's events.
  const keyAccount = e.keyArns.length > 0 ? resources[0]!.accountId : '';
  const refused = e.error?.code === 'AccessDeniedException' && e.principal !== undefined;
  const recipientAccountId = keyAccount !== '' && !refused ? keyAccount : e.principal?.accountId;

  // What the caller passed in as additionalEventData has keys in whatever order it was written with (tlsDetails
  // is copied in sorted order, tlsDetailsOf), and so may a client's map: those records are plain objects, for the
  // generic canonical serialization. The others are SortedAuditRecords, with members assigned in sorted key order
  // (see the top of this file), the optional ones only when present.
  const sorted = order.sorted && e.additionalEventData === undefined;
  const record = (sorted ? new SortedAuditRecord() : {}) as AuditRecord;
  if (additionalEventData !== undefined) record.additionalEventData = additionalEventData;
  record.awsRegion = e.region;
  if (e.error !== undefined) {
    record.errorCode = e.error.code;
    record.errorMessage = e.error.message;
  }
  record.eventCategory = 'Management';
  record.eventID = randomUUID();
  record.eventName = e.operation;
  record.eventSource = EVENT_SOURCE;
  record.eventTime = cloudTrailEventTime(e.eventTime);
  record.eventType = 'AwsApiCall';
  record.eventVersion = EVENT_VERSION;
  record.managementEvent = true;
  record.readOnly = e.readOnly;
  if (recipientAccountId !== undefined) record.recipientAccountId = recipientAccountId;
  record.requestID = e.requestId;
  record.requestParameters = requestParameters;
  record.resources = resources;
  record.responseElements = responseElementsValue;
  record.sourceIPAddress = e.sourceIPAddress;
  if (e.tlsDetails !== undefined) record.tlsDetails = tlsDetailsOf(e.tlsDetails);
  record.userAgent = e.userAgent;
  record.userIdentity = userIdentityOf(e.principal, e.presentedAccessKeyId);
  return record;
}

export interface ServiceEvent {
  /** RotateKey, DeleteKey, DeleteExpiredKeyMaterial, ... */
  eventName: string;
  eventTime: Date;
  region: string;
  accountId: string;
  keyArn?: string;
  /** Non-secret facts, e.g. `{ keyMaterialId, rotationType: 'AUTOMATIC' }` for RotateKey. */
  additionalEventData?: Record<string, unknown>;
  serviceEventDetails?: Record<string, unknown>;
  nodeId?: string;
}

/** One CloudTrail `AwsServiceEvent` record, for work KMS does on its own schedule (rotation, deletion). */
export function buildServiceEventRecord(e: ServiceEvent): AuditRecord {
  const additionalEventData = { ...e.additionalEventData, ...(e.nodeId !== undefined ? { nodeId: e.nodeId } : {}) };
  return {
    eventVersion: EVENT_VERSION,
    userIdentity: { type: 'AWSService', accountId: e.accountId, invokedBy: EVENT_SOURCE },
    eventTime: cloudTrailEventTime(e.eventTime),
    eventSource: EVENT_SOURCE,
    eventName: e.eventName,
    awsRegion: e.region,
    sourceIPAddress: EVENT_SOURCE,
    userAgent: EVENT_SOURCE,
    requestParameters: null,
    responseElements: null,
    ...(Object.keys(additionalEventData).length > 0 ? { additionalEventData } : {}),
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: false,
    resources: e.keyArn !== undefined ? resourcesOf([e.keyArn], []) : [],
    eventType: 'AwsServiceEvent',
    managementEvent: true,
    recipientAccountId: e.accountId,
    ...(e.serviceEventDetails !== undefined ? { serviceEventDetails: e.serviceEventDetails } : {}),
    eventCategory: 'Management',
  };
}
