// What an operation sees of the engine, and the one helper every key operation goes through: resolve the key
// once, charge its quota, authorize, check its state. Operations are plain objects in a static registry.
import type { Config } from '../config.js';
import type { KmsFailure } from '../contract/errors.js';
import { KEY_SPECS, type KeySpecInfo, type KeyUsage } from '../contract/key-specs.js';
import type { JobInput, JobName, JobOutput, KeyRef } from '../contract/tasks.js';
import type { CallerScope, Keyring } from '../keys/keyring.js';
import type { KeyUsageTracker } from '../keys/usage-tracker.js';
import { requireEnabled, requireNotPendingDeletion } from '../keys/states.js';
import type { CryptoPool } from '../pool/crypto-pool.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';

export interface Caller {
  arn: string;
  accountId: string;
  accessKeyId: string;
  type: string;
  userName?: string;
}

export interface AuthorizationRequest {
  caller: Caller;
  operation: string;
  action: string; // kms:Encrypt
  key?: KeyRecord;
  input: Record<string, unknown>;
  /** The grant operation this call needs, when grants can allow it. */
  grantOperation?: string;
  requestAlias?: string;
  reEncryptOnSameKey?: boolean;
  /** The caller's IP address (aws:SourceIp). */
  sourceIp?: string;
  /** Whether the request came over HTTPS (aws:SecureTransport); unknown when undefined. */
  secureTransport?: boolean;
  /**
   * With no `key`: the ARN of the resource the action is on, when it is not the account's '*' (an alias's, for
   * CreateAlias, UpdateAlias and DeleteAlias). No key policy applies to it: identity policies alone decide.
   */
  resource?: string;
  /**
   * The caller named no key: `key` is the one the ciphertext names (Decrypt, ReEncrypt without a key id). A refusal
   * then says "on the resource associated with this ciphertext", as AWS's does, and does not name the key: a caller
   * the key refuses does not learn its ARN (or account) from a ciphertext it holds.
   */
  keyFromCiphertext?: boolean;
}

/** The key a new key policy is for: its ARN, and its properties and tags as condition keys see them. */
export interface KeyPolicyTarget {
  readonly arn: string;
  readonly key: Pick<KeyRecord, 'keyId' | 'spec' | 'usage' | 'origin' | 'tags'>;
  readonly sourceIp?: string;
  readonly secureTransport?: boolean;
}

/** Access control as the pipeline needs it: key policies, identity policies, grants. */
export interface AccessControl {
  authorize(request: AuthorizationRequest): Promise<void>;
  /** The policy a key gets when CreateKey names none. */
  defaultKeyPolicy(): string;
  /**
   * MalformedPolicyDocumentException / LimitExceededException for a bad policy; the lockout safety check, which
   * imagines the caller's next PutKeyPolicy on `target` (the key, or the one CreateKey is making) from `sourceIp`.
   */
  validateKeyPolicy(policy: string, caller: Caller, bypassLockoutSafetyCheck: boolean, target: KeyPolicyTarget): void;
  /** Grants on a key changed (without a key: on any key): drop cached decisions. */
  grantsChanged?(keyId?: string): void;
  /**
   * What the caller's identity (IAM) policies alone say about `action` on `request.resource`: 'allow', 'deny'
   * (an explicit Deny) or 'none'. For RetireGrant, which the grant authorizes and IAM can only delegate or deny.
   */
  identityPoliciesSay(request: AuthorizationRequest & { resource: string }): 'allow' | 'deny' | 'none';
}

export interface QuotaGate {
  /**
   * Charges one request to each class and, when KMS_QUOTAS gives `operation` a limit of its own (`Encrypt=5`),
   * to that too; ThrottlingException when any is exhausted, and then nothing is charged (src/quota/charge.ts).
   */
  take(account: string, classes: readonly string[], operation?: string): void;
}

export interface Engine {
  config: Config;
  keyring: Keyring;
  pool: CryptoPool;
  access: AccessControl;
  quotas: QuotaGate;
  /** Each key's last successful cryptographic use (GetKeyLastUsage); the pipeline notes uses. */
  keyUsage: KeyUsageTracker;
}

export type KeyStates = 'enabled' | 'not-pending-deletion' | 'any';

export interface UseKeyOptions {
  action: string;
  allowAlias: boolean;
  states: KeyStates;
  grantOperation?: string;
  /** Quota classes charged once the key is known; default: none (management ops are charged by name). */
  quota?: (info: KeySpecInfo) => readonly string[];
  /**
   * The identifier is the key id a symmetric ciphertext of this engine carries: it names this engine's key
   * whoever calls, as AWS decrypts another account's ciphertext without a KeyId.
   */
  fromCiphertext?: boolean;
  /**
   * The call writes (CreateGrant, CreateAlias, UpdateKeyDescription): a refusal by the key's state as this node
   * cached it is confirmed on the key as stored, which another node may have changed (Keyring.reread).
   */
  write?: boolean;
}

/**
 * Operations AWS allows on a key in another account, named by its ARN (the service model's "Cross-account
 * use: Yes"). Every other operation takes keys of the caller's own account only.
 */
const CROSS_ACCOUNT_OPERATIONS: ReadonlySet<string> = new Set([
  'CreateGrant', 'Decapsulate', 'Decrypt', 'DeriveSharedSecret', 'DescribeKey', 'Encapsulate', 'Encrypt',
  'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext',
  'GenerateMac', 'GetKeyRotationStatus', 'GetPublicKey', 'ListGrants', 'ReEncrypt', 'RetireGrant', 'RevokeGrant',
  'Sign', 'Verify', 'VerifyMac',
]);

export class RequestContext {
  /** ARNs of the keys and aliases this request touched: the audit record's resources. */
  readonly keyArns: string[] = [];
  readonly aliasArns: string[] = [];
  /** Spec of the (first) key used, for per-spec latency metrics. */
  keySpec = '';
  /**
   * The material a symmetric encryption key used (ReEncrypt: on each side), set by the operation once it has
   * chosen it: the audit record's additionalEventData, whether or not the response carries it (Encrypt's does not).
   */
  keyMaterialId: string | undefined = undefined;
  sourceKeyMaterialId: string | undefined = undefined;
  destinationKeyMaterialId: string | undefined = undefined;
  /** ReEncrypt: the key its ciphertext was opened with, once authorized. */
  private reEncryptSourceKeyId: string | undefined;
  /** Whose names a KeyId is read in, and whether another account's key may be named (by ARN). */
  private readonly scope: CallerScope;

  constructor(readonly engine: Engine, readonly caller: Caller, readonly operation: string,
    readonly input: Record<string, unknown>, readonly sourceIp?: string, readonly secureTransport?: boolean) {
    this.scope = { account: caller.accountId, crossAccount: CROSS_ACCOUNT_OPERATIONS.has(operation) };
  }

  get keyring(): Keyring {
    return this.engine.keyring;
  }

  /**
   * The quota classes this request has been charged, undefined before its first key. A request counts once
   * against each quota (kms-api.md section 9 counts requests): ReEncrypt's destination key charges only a class
   * its source key did not (a symmetric-to-RSA ReEncrypt counts against both, symmetric-to-symmetric once),
   * and the operation's own limit (`ReEncrypt=5`) goes with the first key.
   */
  private chargedQuotaClasses: readonly string[] | undefined;

  /**
   * KMS_FAULTS: the error drawn for a cryptographic operation on a key, held until its key is resolved (useKey
   * raises it there, before any quota is charged) so that its audit record names the key and its metrics the key
   * spec, as a quota's ThrottlingException's do. Undefined once raised.
   */
  private injectedFault: KmsError | undefined;

  /** Answers this request with `fault` once its key is known (useKey); see takeInjectedFault for a call that never gets there. */
  injectFaultAtKey(fault: KmsError): void {
    this.injectedFault = fault;
  }

  /** The injected fault not raised yet (the call failed before its key was known): still the call's answer. */
  takeInjectedFault(): KmsError | undefined {
    const fault = this.injectedFault;
    this.injectedFault = undefined;
    return fault;
  }

  /** Names `key` as a resource of this call: in the audit record's resources and (the first key) the metrics' key_spec. */
  noteKey(key: Pick<KeyRecord, 'arn' | 'spec'>): void {
    this.keyArns.push(key.arn);
    if (this.keySpec === '') this.keySpec = key.spec;
  }

  /** Resolve once, charge quota, authorize, check state: the order AWS applies. */
  async useKey(identifier: string, options: UseKeyOptions): Promise<KeyRecord> {
    const { key, alias } = await this.keyring.resolve(identifier, options.allowAlias, options.fromCiphertext ? undefined : this.scope);
    this.noteKey(key);
    if (alias !== undefined) this.aliasArns.push(this.keyring.aliasArnOf(alias));
    const fault = this.takeInjectedFault();
    if (fault !== undefined) throw fault;
    if (options.quota !== undefined) {
      const classes = options.quota(KEY_SPECS[key.spec]);
      const charged = this.chargedQuotaClasses;
      if (charged === undefined) {
        // ReEncrypt's source side charges its destination's class in the same take, so that a request one of
        // them refuses spends nothing of the other (src/quota/charge.ts: all or nothing).
        const all = options.action === 'kms:ReEncryptFrom' ? withClasses(classes, await this.destinationQuotaClasses(options.quota)) : classes;
        this.engine.quotas.take(this.caller.accountId, all, this.operation);
        this.chargedQuotaClasses = all;
      } else {
        const uncharged = classes.filter((quotaClass) => !charged.includes(quotaClass));
        if (uncharged.length > 0) this.engine.quotas.take(this.caller.accountId, uncharged);
        this.chargedQuotaClasses = [...charged, ...uncharged];
      }
    }
    await this.authorizeUse(key, alias, options);
    try {
      requireState(key, options.states);
    } catch (error) {
      if (options.write !== true) throw error;
      const stored = await this.keyring.reread(key.keyId);
      if (stored === undefined || stored.version === key.version) throw error;
      await this.authorizeUse(stored, alias, options);
      requireState(stored, options.states);
      return stored;
    }
    return key;
  }

  private async authorizeUse(key: KeyRecord, alias: string | undefined, options: UseKeyOptions): Promise<void> {
    await this.engine.access.authorize({
      caller: this.caller, operation: this.operation, action: options.action, key, input: this.input,
      grantOperation: options.grantOperation, requestAlias: alias, sourceIp: this.sourceIp, secureTransport: this.secureTransport,
      ...(options.fromCiphertext === true ? { keyFromCiphertext: true } : {}),
      reEncryptOnSameKey: this.operation === 'ReEncrypt' ? await this.reEncryptOnSameKey(key, options.action) : undefined,
    });
  }

  /** The quota classes of ReEncrypt's destination key; none when DestinationKeyId names no key (its own error comes later). */
  private async destinationQuotaClasses(quota: (info: KeySpecInfo) => readonly string[]): Promise<readonly string[]> {
    if (typeof this.input.DestinationKeyId !== 'string') return [];
    try {
      return quota(KEY_SPECS[(await this.resolveKey(this.input.DestinationKeyId, true)).key.spec]);
    } catch (error) {
      if (error instanceof KmsError) return [];
      throw error;
    }
  }

  /**
   * kms:ReEncryptOnSameKey, for both of ReEncrypt's authorizations. The source side (kms:ReEncryptFrom) comes
   * first, before the destination is used: it resolves DestinationKeyId to compare (an unresolvable destination
   * is not the same key; its own NotFoundException comes when the destination is used) and remembers the
   * source, which the destination side (kms:ReEncryptTo) then compares against.
   */
  private async reEncryptOnSameKey(key: KeyRecord, action: string): Promise<boolean | undefined> {
    if (action !== 'kms:ReEncryptFrom') return this.reEncryptSourceKeyId === key.keyId;
    this.reEncryptSourceKeyId = key.keyId;
    if (typeof this.input.DestinationKeyId !== 'string') return undefined;
    try {
      return (await this.resolveKey(this.input.DestinationKeyId, true)).key.keyId === key.keyId;
    } catch (error) {
      if (error instanceof KmsError) return false;
      throw error;
    }
  }

  /**
   * Whether the caller belongs to the account whose keys and aliases this engine holds (KMS_ACCOUNT_ID); a caller
   * of another account has none here to list, name or create (README, "Accounts").
   */
  get callerOwnsKeys(): boolean {
    return this.caller.accountId === this.keyring.account;
  }

  /** Resolves a KeyId as this caller names it (useKey's lookup), for operations that authorize otherwise. */
  resolveKey(identifier: string, allowAlias: boolean): ReturnType<Keyring['resolve']> {
    return this.keyring.resolve(identifier, allowAlias, this.scope);
  }

  /** Authorization for operations on no particular key (CreateKey, ListKeys, GenerateRandom, ...). */
  async authorizeAccount(action: string): Promise<void> {
    await this.engine.access.authorize({ caller: this.caller, operation: this.operation, action, input: this.input, sourceIp: this.sourceIp,
      secureTransport: this.secureTransport });
  }

  /** The caller's identity policies alone on `resource` (see AccessControl.identityPoliciesSay). */
  identityPoliciesSay(action: string, resource: string): 'allow' | 'deny' | 'none' {
    return this.engine.access.identityPoliciesSay({ caller: this.caller, operation: this.operation, action, input: this.input,
      sourceIp: this.sourceIp, secureTransport: this.secureTransport, resource });
  }

  /**
   * The alias side of CreateAlias, UpdateAlias and DeleteAlias: AWS requires the action on the alias ARN as well
   * as on the key, and an alias has no resource policy, so only the caller's identity policies can allow it.
   */
  async authorizeAlias(action: string, aliasName: string): Promise<void> {
    await this.authorizeOn(action, this.keyring.aliasArnOf(aliasName));
  }

  /** Authorization on a resource that is no key and has no resource policy (an alias, a principal): IAM alone. */
  async authorizeOn(action: string, resource: string): Promise<void> {
    await this.engine.access.authorize({ caller: this.caller, operation: this.operation, action, input: this.input,
      sourceIp: this.sourceIp, secureTransport: this.secureTransport, resource });
  }

  /**
   * Runs a worker job; a failure comes back as the AWS error it names. With DryRun, every check on the main
   * thread has passed by the time an operation asks for its job, so a job that only produces (a ciphertext, a
   * signature, a data key) is not run: the call would have succeeded, and the dry run ends here. A job that
   * checks what the caller sent (a ciphertext to open, a signature or MAC to verify, a peer's public key) runs,
   * so that a dry run fails where the real call would; the operation then completes and the pipeline answers
   * DryRunOperationException in place of its result. IGNORE_CIPHERTEXT skips opening the ciphertext.
   */
  async job<N extends JobName>(job: JobInput<N>): Promise<JobOutput<N>> {
    if (this.input.DryRun === true && !checksCallerInput(job.op, this.input)) throw dryRunWouldSucceed();
    const result = await this.engine.pool.run(job);
    if (!result.ok) throw new KmsError((result as KmsFailure).code, (result as KmsFailure).message);
    return result as JobOutput<N>;
  }
}

/** `classes` and those of `more` it lacks (the same array when there are none: no allocation for same-class ReEncrypt). */
function withClasses(classes: readonly string[], more: readonly string[]): readonly string[] {
  const missing = more.filter((quotaClass) => !classes.includes(quotaClass));
  return missing.length === 0 ? classes : [...classes, ...missing];
}

/** Jobs that can fail on what the caller sent, not only on the key: a dry run runs them too. */
const CALLER_INPUT_JOBS: ReadonlySet<JobName> = new Set(['decrypt', 'reEncrypt', 'verify', 'verifyMac', 'deriveSharedSecret', 'decapsulate']);

const checksCallerInput = (op: JobName, input: Record<string, unknown>): boolean =>
  CALLER_INPUT_JOBS.has(op) && !((op === 'decrypt' || op === 'reEncrypt') && ignoresCiphertext(input));

/** What a dry run answers once everything it checks has passed. */
export const dryRunWouldSucceed = (): KmsError =>
  new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');

/** DryRun with DryRunModifiers [IGNORE_CIPHERTEXT]: check everything but the ciphertext, which may be absent. */
export const ignoresCiphertext = (input: Record<string, unknown>): boolean =>
  input.DryRun === true && (input.DryRunModifiers as string[] | undefined)?.includes('IGNORE_CIPHERTEXT') === true;

/**
 * Recipient (a Nitro Enclave's attestation document) asks for the result sealed to the enclave instead of in
 * plaintext. There are no enclaves to attest here, so it is refused rather than ignored: ignoring it would hand
 * back the plaintext the caller asked never to see.
 */
export function refuseRecipient(input: Record<string, unknown>): void {
  if (input.Recipient !== undefined) {
    throw new KmsError('UnsupportedOperationException', 'Nitro Enclave attestation (Recipient) is not supported by this engine.');
  }
}

/** The reference a worker needs to use a key's current (or a given) material. */
function requireState(key: KeyRecord, states: KeyStates): void {
  if (states === 'enabled') requireEnabled(key);
  else if (states === 'not-pending-deletion') requireNotPendingDeletion(key);
}

export function keyRef(key: KeyRecord, materialId = key.currentMaterialId): KeyRef {
  const material = key.materials.find((m) => m.materialId === materialId);
  if (material?.wrapped === undefined) throw new KmsError('KMSInternalException', 'Key material is missing.');
  return { keyId: key.keyId, materialId: material.materialId, spec: key.spec, wrapped: material.wrapped };
}

export function requireUsage(key: KeyRecord, usage: KeyUsage, operation: string): void {
  if (key.usage !== usage) {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.usage} which is not valid for ${operation}.`);
  }
}

export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');

