// Checks CreateKey and PutKeyPolicy run on a new key policy before accepting it (kms-api.md 8.1): the
// lockout safety check, and that the principals it names exist.
import { KmsError } from '../../protocol/errors.js';
import { conditionKeysFor, type ConditionKeySubject } from '../condition-keys.js';
import type { IdentityDirectory, Principal } from '../identities.js';
import { decidePolicies } from './decision.js';
import type { CompiledPolicy } from './document.js';
import { splitArn } from './wildcard.js';

export const LOCKOUT_MESSAGE = 'The new key policy will not allow you to update the key policy in the future.';

/** What the later PutKeyPolicy call the lockout check imagines would carry besides the caller. */
export interface LockoutContext {
  /** The key (or, for CreateKey, the key as the request describes it): its tags and properties are condition keys. */
  readonly key?: ConditionKeySubject;
  /** The caller's address now, for aws:SourceIp. */
  readonly sourceIp?: string;
  /** Whether the caller came over HTTPS now, for aws:SecureTransport. */
  readonly secureTransport?: boolean;
}

/**
 * Throws MalformedPolicyDocumentException unless `policy` still lets `caller` call kms:PutKeyPolicy on the
 * key (including via account trust plus the caller's identity policies), from where it calls now. Pass the
 * key's ARN so statements naming the key's ARN count; without it only `"Resource": "*"` statements match.
 * Skip the call when the request sets BypassPolicyLockoutSafetyCheck.
 */
export function checkLockout(policy: CompiledPolicy, caller: Principal, keyArn?: string, context: LockoutContext = {}): void {
  const arnParts = keyArn ? splitArn(keyArn) : undefined;
  const keyAccount = keyArn ? arnParts?.[4] : caller.accountId;
  const key = context.key && keyAccount !== undefined ? { ...context.key, account: keyAccount } : context.key;
  const conditions = conditionKeysFor('PutKeyPolicy', { BypassPolicyLockoutSafetyCheck: false }, key, caller,
    { sourceIp: context.sourceIp, requestedRegion: arnParts?.[3], secureTransport: context.secureTransport });
  const verdict = decidePolicies({ principal: caller, action: 'kms:PutKeyPolicy', resource: keyArn ?? '*', conditions },
    policy, keyAccount);
  if (verdict !== 'allow') throw new KmsError('MalformedPolicyDocumentException', LOCKOUT_MESSAGE);
}

/**
 * KMS rejects policies naming principals that do not exist. This engine knows every principal of its own
 * account (root plus KMS_IDENTITIES), so a user, role or session of `accountId` that the directory does not
 * hold is rejected; principals of other accounts cannot be checked and are accepted, as are account roots.
 */
export function checkPrincipalsExist(policy: CompiledPolicy, directory: IdentityDirectory, accountId: string): void {
  for (const named of policy.namedPrincipals) {
    if (named.kind === 'root' || named.accountId !== accountId) continue;
    // A session names its role: any session of a known role is fine.
    const exists = directory.hasPrincipal(named.roleArn ?? named.arn);
    if (!exists) throw new KmsError('MalformedPolicyDocumentException', 'Policy contains a statement with one or more invalid principals.');
  }
}
