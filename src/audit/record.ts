// Builds one CloudTrail-shaped audit record per KMS call (kms-api.md section 10). The record never holds
// plaintext, ciphertext, messages, signatures, MACs, key material, import material or grant tokens:
// requestParameters go through the model-driven filter in shapes.ts, and responseElements are an allow-list
// (RESPONSE_ELEMENTS) because outputs are where the secrets are (Plaintext, PrivateKeyPlaintext, GrantToken...).

import { randomUUID } from 'node:crypto';
import { decodeGrantToken } from '../auth/grants.js';
import { isCryptoOperation } from '../quota/classes.js';
import { lowerCamel, requestElements, responseElements } from './shapes.js';

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
  userName?: string;
  invokedBy?: string;
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
  /** Extra non-secret facts only the pipeline knows, e.g. the grantId a RetireGrant by token resolved to. */
  additionalEventData?: Record<string, unknown>;
  tlsDetails?: TlsDetails;
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

/** Output members that CloudTrail moves into additionalEventData on cryptographic operations (2025+). */
const KEY_MATERIAL_OUTPUTS = ['KeyMaterialId', 'SourceKeyMaterialId', 'DestinationKeyMaterialId'] as const;

/** Operations whose requestParameters CloudTrail logs as null (their inputs are a size or a bearer token). */
const NULL_REQUEST_PARAMETERS: ReadonlySet<string> = new Set(['GenerateRandom', 'RetireGrant']);

/**
 * CloudTrail's readOnly flag: true for cryptographic operations (they change no resource) and for
 * Describe/Get/List calls; false for everything that creates, changes or deletes something.
 */
export const isReadOnlyOperation = (operation: string): boolean =>
  isCryptoOperation(operation) || /^(Describe|Get|List)[A-Z]/.test(operation);

/** ISO-8601 UTC to the second, as CloudTrail writes eventTime: 2024-05-01T12:34:56Z. */
export const cloudTrailEventTime = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;

/** The account of an ARN (`arn:aws:kms:region:ACCOUNT:key/...`), or undefined. */
export const arnAccount = (arn: string): string | undefined => {
  const account = arn.split(':')[4];
  return account === undefined || account === '' ? undefined : account;
};

function userIdentityOf(principal: AuditPrincipal | undefined): AuditUserIdentity {
  // An unauthenticated caller has no identity we can vouch for: CloudTrail's "Unknown" type.
  if (principal === undefined) return { type: 'Unknown' };
  const identity: AuditUserIdentity = { type: principal.type };
  // The root principal's id is the account id; other ids are IAM-internal and not known here.
  if (principal.type === 'Root') identity.principalId = principal.accountId;
  identity.arn = principal.arn;
  identity.accountId = principal.accountId;
  identity.accessKeyId = principal.accessKeyId;
  if (principal.userName !== undefined) identity.userName = principal.userName;
  return identity;
}

function resourcesOf(keyArns: readonly string[], aliasArns: readonly string[]): AuditResource[] {
  const resources: AuditResource[] = [];
  for (const ARN of keyArns) resources.push({ accountId: arnAccount(ARN) ?? '', type: 'AWS::KMS::Key', ARN });
  for (const ARN of aliasArns) resources.push({ accountId: arnAccount(ARN) ?? '', type: 'AWS::KMS::Alias', ARN });
  return resources;
}

function requestParametersOf(e: AuditCall): Record<string, unknown> | null {
  if (e.request === undefined || NULL_REQUEST_PARAMETERS.has(e.operation)) return null;
  const parameters = requestElements(e.operation, e.request);
  // CloudTrail names the key a Decrypt used even when the caller left KeyId out (symmetric ciphertext
  // self-describes its key).
  if (e.operation === 'Decrypt' && parameters.keyId === undefined && e.keyArns.length === 1) {
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

function additionalEventDataOf(e: AuditCall): Record<string, unknown> | undefined {
  const data: Record<string, unknown> = {};
  if (e.response !== undefined && !Object.hasOwn(RESPONSE_ELEMENTS, e.operation)) {
    for (const member of KEY_MATERIAL_OUTPUTS) {
      const value = e.response[member];
      if (typeof value === 'string') data[lowerCamel(member)] = value;
    }
  }
  if (e.operation === 'RetireGrant') {
    const grantId = retiredGrantId(e.request);
    if (grantId !== undefined) data.grantId = grantId;
  }
  if (e.additionalEventData !== undefined) Object.assign(data, e.additionalEventData);
  if (e.nodeId !== undefined) data.nodeId = e.nodeId;
  return Object.keys(data).length === 0 ? undefined : data;
}

/** One CloudTrail `AwsApiCall` record for a KMS request, successful or not. */
export function buildAuditRecord(e: AuditCall): AuditRecord {
  const allowed = RESPONSE_ELEMENTS[e.operation];
  const responseElementsValue = e.error === undefined && e.response !== undefined && allowed !== undefined
    ? responseElements(e.operation, e.response, allowed)
    : null;
  const additionalEventData = additionalEventDataOf(e);
  // The key owner's account receives the event; with no key involved, the caller's.
  const recipientAccountId = (e.keyArns[0] !== undefined ? arnAccount(e.keyArns[0]) : undefined)
    ?? e.principal?.accountId;

  const record: AuditRecord = {
    eventVersion: EVENT_VERSION,
    userIdentity: userIdentityOf(e.principal),
    eventTime: cloudTrailEventTime(e.eventTime),
    eventSource: EVENT_SOURCE,
    eventName: e.operation,
    awsRegion: e.region,
    sourceIPAddress: e.sourceIPAddress,
    userAgent: e.userAgent,
    ...(e.error !== undefined ? { errorCode: e.error.code, errorMessage: e.error.message } : {}),
    requestParameters: requestParametersOf(e),
    responseElements: responseElementsValue,
    ...(additionalEventData !== undefined ? { additionalEventData } : {}),
    requestID: e.requestId,
    eventID: randomUUID(),
    readOnly: e.readOnly,
    resources: resourcesOf(e.keyArns, e.aliasArns ?? []),
    eventType: 'AwsApiCall',
    managementEvent: true,
    ...(recipientAccountId !== undefined ? { recipientAccountId } : {}),
    eventCategory: 'Management',
    ...(e.tlsDetails !== undefined ? { tlsDetails: e.tlsDetails } : {}),
  };
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
