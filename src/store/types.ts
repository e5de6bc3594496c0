// The persisted shape of keys, aliases and grants, and the storage interface every backend implements
// (SQLite embedded; PostgreSQL for many nodes). Key material appears here only wrapped under the root key.
import type { KeySpec, KeyUsage } from '../contract/key-specs.js';

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport';
export type KeyOrigin = 'AWS_KMS' | 'EXTERNAL';

export interface Tag {
  TagKey: string;
  TagValue: string;
}

export interface MaterialRecord {
  materialId: string; // 64 lowercase hex
  /** AES-256-GCM under the root key, bound to (keyId, materialId); see src/keys/wrapping.ts. */
  wrapped: Buffer;
  createdAt: number; // epoch seconds
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
  state?: 'CURRENT' | 'NON_CURRENT';
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
}

export interface GrantRecord {
  grantId: string;
  keyId: string;
  name?: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  issuingAccount: string;
  operations: string[];
  constraints?: GrantConstraints;
  creationDate: number;
}
