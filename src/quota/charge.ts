// Charging one request to every quota it counts against. A cryptographic operation counts against its key's
// class (kms-api.md section 9: `symmetric`, `ecc`, `datakeypair:<KeyPairSpec>`, ...) and, when KMS_QUOTAS also
// names the operation (`Encrypt=5`), against that limit too: the request must pass both. All or nothing: a
// request refused by one of its quotas spends no token of the others, so an Encrypt flood held at 5/s does not
// drain the symmetric quota that Decrypt and GenerateDataKey share with it.
import type { RequestQuotas } from './open.js';

type Limiter = Pick<RequestQuotas, 'take' | 'canTake' | 'limitOf'>;

/**
 * Charges `account` one request in each of `classes` and, if it has a limit of its own, in `operation`.
 * Returns the quota class that refused the request (nothing is charged then), or undefined when it was admitted.
 */
export function chargeRequest(limiter: Limiter, account: string, classes: readonly string[], operation?: string): string | undefined {
  const own = operation !== undefined && limiter.limitOf(operation) !== undefined ? operation : undefined;
  // The common case, one class and no limit of the operation's own: a single take, as cheap as before.
  if (own === undefined && classes.length === 1) return limiter.take(account, classes[0]!) ? undefined : classes[0];
  for (const quotaClass of classes) if (!limiter.canTake(account, quotaClass)) return quotaClass;
  if (own !== undefined && !limiter.canTake(account, own)) return own;
  // Every bucket has a token, and nothing else runs in between: these takes all succeed.
  for (const quotaClass of classes) limiter.take(account, quotaClass);
  if (own !== undefined) limiter.take(account, own);
  return undefined;
}
