// The error catalogue: every `__type` the engine answers with, and its HTTP status (kms-api.md section 1.3).
// Workers return these codes as data ({ ok: false, code, message }): an Error subclass does not survive a
// thread hop. Imported by both threads: pure data, no I/O.

/** There are no custom key stores: any one a request names does not exist. */
export const CUSTOM_KEY_STORE_NOT_FOUND_MESSAGE = 'The specified custom key store does not exist.';

export const ERROR_STATUS = {
  // Modeled KMS errors.
  AlreadyExistsException: 409,
  ConflictException: 409,
  CustomKeyStoreNotFoundException: 400,
  DependencyTimeoutException: 503,
  DisabledException: 409,
  DryRunOperationException: 412,
  ExpiredImportTokenException: 400,
  IncorrectKeyException: 400,
  IncorrectKeyMaterialException: 400,
  InvalidAliasNameException: 400,
  InvalidArnException: 400,
  InvalidCiphertextException: 400,
  InvalidGrantIdException: 400,
  InvalidGrantTokenException: 400,
  InvalidImportTokenException: 400,
  InvalidKeyUsageException: 400,
  InvalidMarkerException: 400,
  KeyUnavailableException: 500,
  KMSInternalException: 500,
  KMSInvalidMacException: 400,
  KMSInvalidSignatureException: 400,
  KMSInvalidStateException: 409,
  LimitExceededException: 400,
  MalformedPolicyDocumentException: 400,
  NotFoundException: 404,
  TagException: 400,
  UnsupportedOperationException: 400,
  // Common (unmodeled) errors every AWS JSON endpoint answers with.
  AccessDeniedException: 400,
  IncompleteSignatureException: 400,
  InvalidSignatureException: 400,
  MissingAuthenticationTokenException: 400,
  NotAuthorizedException: 400,
  SerializationException: 400,
  ThrottlingException: 400,
  UnknownOperationException: 400,
  UnrecognizedClientException: 400,
  ValidationException: 400,
  RequestEntityTooLargeException: 413,
} as const satisfies Record<string, number>;

export type KmsErrorCode = keyof typeof ERROR_STATUS;

export interface KmsFailure {
  readonly ok: false;
  readonly code: KmsErrorCode;
  readonly message: string;
}

export const THROTTLING_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';

export const isKmsErrorCode = (value: unknown): value is KmsErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
