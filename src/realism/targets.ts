// What a KMS_LATENCY / KMS_FAULTS rule applies to: an operation name from the AWS model, or a class of them.
// Shared by latency.ts and faults.ts so both variables accept exactly the same targets.

import { isCryptoOperation, KMS_OPERATIONS } from '../quota/classes.js';

/** A source of uniform numbers in [0, 1); Math.random in production, a seeded generator in tests. */
export type RandomSource = () => number;

/** Class names accepted where an operation name is: `*` is every operation. */
export type TargetClass = 'crypto' | 'management' | '*';

const CLASS_MEMBERS: Readonly<Record<TargetClass, readonly string[]>> = {
  crypto: [...KMS_OPERATIONS].filter(isCryptoOperation),
  management: [...KMS_OPERATIONS].filter((operation) => !isCryptoOperation(operation)),
  '*': [...KMS_OPERATIONS],
};

export const ALL_OPERATIONS: readonly string[] = CLASS_MEMBERS['*'];

export const isTargetClass = (target: string): target is TargetClass => Object.hasOwn(CLASS_MEMBERS, target);

/**
 * The operations `target` names. Throws an Error naming `variable` for anything else, so a typo in an
 * operation name stops the server instead of silently injecting nothing.
 */
export function operationsOf(target: string, variable: string): readonly string[] {
  if (isTargetClass(target)) return CLASS_MEMBERS[target];
  if (KMS_OPERATIONS.has(target)) return [target];
  throw new Error(`${variable}: "${target}" is neither an AWS KMS operation name nor one of crypto, management, *`);
}

/** Splits a rule list on `;`, ignoring blanks and surrounding spaces. */
export const rulesOf = (value: string): string[] =>
  value.split(';').map((rule) => rule.trim()).filter((rule) => rule !== '');
