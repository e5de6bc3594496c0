// AWS's wording for the retryable server-side failures KMS answers with, shared by fault injection and by the
// engine's own internal failures (e.g. an audit record that could not be written) so both read the same.
// Candidates to move beside THROTTLING_MESSAGE in src/contract/errors.ts.

import { THROTTLING_MESSAGE } from '../contract/errors.js';

export const KMS_INTERNAL_MESSAGE = 'The request was rejected because an internal exception occurred. The request can be retried.';
export const DEPENDENCY_TIMEOUT_MESSAGE = 'The system timed out while trying to fulfill the request. You can retry the request.';
export const KEY_UNAVAILABLE_MESSAGE =
  'The request was rejected because the specified KMS key was not available. You can retry the request.';

/** The errors KMS_FAULTS can inject, with the message AWS sends for each. */
export const RETRYABLE_ERROR_MESSAGES = {
  ThrottlingException: THROTTLING_MESSAGE,
  KMSInternalException: KMS_INTERNAL_MESSAGE,
  DependencyTimeoutException: DEPENDENCY_TIMEOUT_MESSAGE,
  KeyUnavailableException: KEY_UNAVAILABLE_MESSAGE,
} as const;

export type InjectableErrorCode = keyof typeof RETRYABLE_ERROR_MESSAGES;
