// The persisted shape of keys, aliases and grants, and the storage interface every backend implements
// (SQLite embedded; PostgreSQL for many nodes). Key material appears here only wrapped under the root key.
import type { KeySpec, KeyUsage } from '../contract/key-specs.js';

export const KEY_STATES = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport'] as const;
export type KeyState = typeof KEY_STATES[number];
export type KeyOrigin = 'AWS_KMS' | 'EXTERNAL';

export interface Tag {
  TagKey: string;
  TagValue: string;
}

export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

export interface MaterialRecord {
  materialId: string; // 64 lowercase hex
  /**
   * AES-256-GCM under the root key, bound to (keyId, materialId); see src/keys/wrapping.ts. Absent while
   * imported material is deleted or expired (ImportState PENDING_IMPORT): its id stays the key's.
   */
  wrapped?: Buffer;
  createdAt: number; // epoch seconds
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
  /** PENDING_ROTATION: imported for RotateKeyOnDemand, not yet used and not yet the key's for good. */
  state?: 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION';
  /** Imported material only (src/keys/imported-material.ts): its expiry and the importer's description. */
  expirationModel?: ExpirationModel;
  validTo?: number;
  description?: string;
}

export interface KeyRecord {
  keyId: string;
  arn: string;
  account: string;
  region: string;
  spec: KeySpec;
  usage: KeyUsage;
  origin: KeyOrigin;
  state: KeyState;
  description: string;
  creationDate: number; // epoch seconds (fractional)
  deletionDate?: number;
  pendingWindowInDays?: number;
  /** The key policy document, as given (or the default policy). */
  policy: string;
  rotationEnabled: boolean;
  rotationPeriodInDays?: number;
  nextRotationDate?: number;
  onDemandRotations: number;
  currentMaterialId?: string;
  materials: MaterialRecord[];
  /** DER SubjectPublicKeyInfo of asymmetric keys: public, so kept beside the wrapped private key. */
  publicKey?: Buffer;
  /** Origin EXTERNAL: the id of the material first imported (records from before materials kept their own ids). */
  importedMaterialId?: string;
  /**
   * Origin EXTERNAL: the current material's expiration model in records written before materials carried
   * their own; now unused.
   */
  expirationModel?: ExpirationModel;
  /** Origin EXTERNAL: when the next imported material expires (epoch seconds), for the scheduler and lazy expiry. */
  validTo?: number;
  tags: Tag[];
  /** Bumped on every change: invalidates caches (metadata, policy decisions) across threads and nodes. */
  version: number;
}

export interface AliasRecord {
  name: string; // alias/...
  keyId: string;
  creationDate: number;
  lastUpdatedDate: number;
}

export interface GrantConstraints {
  EncryptionContextSubset?: Record<string, string>;
  EncryptionContextEquals?: Record<string, string>;
  /** The resource a request must be made on behalf of (aws:SourceArn); required on grants to a service. */
  SourceArn?: string;
}

/**
 * A grant names exactly one grantee: an AWS principal's ARN (granteePrincipal) or an AWS service principal
 * such as dynamodb.amazonaws.com (granteeServicePrincipal; records written before such grants existed have
 * granteePrincipal). At most one retiring principal, of either kind.
 */
/** A grant and its place in the store's order of insertion: a page of grants resumes after a place. */
export interface PlacedGrant {
  grant: GrantRecord;
  place: number;
}

export interface GrantRecord {
  grantId: string;
  keyId: string;
  name?: string;
  granteePrincipal?: string;
  granteeServicePrincipal?: string;
  retiringPrincipal?: string;
  retiringServicePrincipal?: string;
  issuingAccount: string;
  operations: string[];
  constraints?: GrantConstraints;
  creationDate: number;
}

/** A key's newest successful cryptographic use (GetKeyLastUsage), as src/keys/usage-tracker.ts records it. */
export interface KeyUsageRecord {
  keyId: string;
  /** The KMS operation: Encrypt, Sign, ... (KeyLastUsageTrackingOperation). */
  operation: string;
  usedAt: number; // epoch seconds (fractional)
  /** The audit record's eventID, which is CloudTrail's. */
  eventId: string;
  requestId: string;
}

/**
 * A deep copy of a key record that keeps its Buffers Buffers (structuredClone turns them into plain
 * Uint8Arrays, whose toString('base64') writes "1,2,3"): every change is made to a copy, never in place.
 */
export function copyKeyRecord(record: KeyRecord): KeyRecord {
  const copy = structuredClone(record);
  copy.materials = record.materials.map((material) =>
    (material.wrapped === undefined ? { ...material } : { ...material, wrapped: Buffer.from(material.wrapped) }));
  if (record.publicKey !== undefined) copy.publicKey = Buffer.from(record.publicKey);
  return copy;
}

/** Thrown by a store when a conditional write finds the row changed or taken; callers map it to an AWS error. */
export class StoreConflict extends Error {}

/**
 * Thrown by updateKey when the new alias written with the key has a name already taken. Not a StoreConflict:
 * no retry can succeed (the caller answers AlreadyExistsException).
 */
export class AliasNameTaken extends Error {}

/**
 * Thrown by updateKey when the alias moved with the key no longer exists (a DeleteAlias won the race). The key
 * write is not kept with SQLite; no retry can succeed (the caller answers NotFoundException).
 */
export class AliasGone extends Error {}

/**
 * Thrown by insertGrant when the key already holds `maxGrantsPerKey` grants. Not a StoreConflict: no retry can
 * succeed until a grant is retired or revoked (the caller answers LimitExceededException).
 */
export class GrantLimitReached extends Error {}

/**
 * An alias written in one transaction with a new version of the key it points to (a new alias, or one moved
 * there). A key's alias limit is checked against the aliases it has at the version read, so the alias must be
 * written only while that version still stands, as a tag is with the key record it lives in.
 */
export interface AliasWrite {
  alias: AliasRecord;
  isNew: boolean;
}

/**
 * Persistence for keys, aliases and grants. Every write resolves only once it is durable: a 2xx answer after
 * an awaited write survives kill -9. Async so a networked store (PostgreSQL) fits the same interface.
 */
export interface KeyStore {
  readonly kind: string;
  getKey(keyId: string): Promise<KeyRecord | undefined>;
  /** Key ids in order, after `afterKeyId`, at most `limit`. */
  listKeyIds(afterKeyId: string | undefined, limit: number): Promise<string[]>;
  countKeysByState(): Promise<Record<string, number>>;
  /** Keys whose deletion date or next rotation date has passed: scheduled work. */
  dueKeys(now: number): Promise<string[]>;
  /** Inserts a new key; StoreConflict when the id exists. */
  insertKey(record: KeyRecord): Promise<void>;
  /**
   * Replaces a key if its stored version is `expectedVersion`; StoreConflict otherwise. With `alias`, writes it
   * in the same transaction (record.keyId is the alias's key): both or neither; AliasNameTaken when a new
   * alias's name exists.
   */
  updateKey(record: KeyRecord, expectedVersion: number, alias?: AliasWrite): Promise<void>;
  /** Deletes a key with its aliases and grants. */
  deleteKey(keyId: string): Promise<void>;

  getAlias(name: string): Promise<AliasRecord | undefined>;
  listAliases(keyId?: string): Promise<AliasRecord[]>;
  /**
   * A page of aliases in name order (bytewise): those of `keyId` when given, named after `afterName`, at most
   * `limit`. ListAliases reads only its page, so listing every alias of a large store takes time in proportion to
   * their number, not to its square.
   */
  listAliasesAfter(keyId: string | undefined, afterName: string | undefined, limit: number): Promise<AliasRecord[]>;
  /** Inserts a new alias; StoreConflict when the name exists. */
  insertAlias(alias: AliasRecord): Promise<void>;
  updateAlias(alias: AliasRecord): Promise<void>;
  deleteAlias(name: string): Promise<boolean>;

  listGrants(keyId: string): Promise<GrantRecord[]>;
  getGrant(grantId: string): Promise<GrantRecord | undefined>;
  /** Grants whose retiring principal or retiring service principal is `principal`. */
  listGrantsByRetiringPrincipal(principal: string): Promise<GrantRecord[]>;
  /**
   * A page of grants in the order they were stored, those of `of.keyId` or of `of.retiringPrincipal` (as
   * listGrantsByRetiringPrincipal), placed after `afterPlace` (0: from the first), at most `limit`. ListGrants and
   * ListRetirableGrants read only their page, so listing a key's 50,000 grants takes time in proportion to them,
   * not to their square.
   */
  listGrantsAfter(of: { keyId: string } | { retiringPrincipal: string }, afterPlace: number, limit: number): Promise<PlacedGrant[]>;
  /**
   * Inserts a grant and resolves to it. With `sameAs`, the grant is a named CreateGrant's: if one of the key's
   * grants is one `sameAs` accepts (the same call retried), nothing is inserted and that grant is the answer.
   * The look and the insert are one step for every writer (requests, front ends, nodes), so calls racing with
   * the same name and terms make one grant. With `maxGrantsPerKey`, a key that already has that many grants gets
   * none (GrantLimitReached), counted in the same step, so calls racing for the last place make one grant.
   */
  insertGrant(grant: GrantRecord, sameAs?: (existing: GrantRecord) => boolean, maxGrantsPerKey?: number): Promise<GrantRecord>;
  deleteGrant(grantId: string): Promise<boolean>;

  /**
   * Saves key uses: per key the newest (by usedAt) of the stored and the given wins, so writers in any order
   * (front ends, nodes) converge. Uses of keys that no longer exist are dropped. Deleting a key deletes its use.
   */
  recordKeyUsage(uses: readonly KeyUsageRecord[]): Promise<void>;
  getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined>;
  /** When this store began recording key uses (epoch seconds): GetKeyLastUsage's TrackingStartDate for older keys. */
  usageTrackingStart(): Promise<number>;

  close(): Promise<void>;
}
