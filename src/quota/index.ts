// Request quotas: KMS_QUOTAS parsing, the class each request consumes, and the per-account limiter.
export { parseQuotas, type QuotaConfig } from './parse.js';
export { quotaClassFor, isCryptoOperation, KMS_OPERATIONS } from './classes.js';
export { QuotaLimiter, throttlingError, type QuotaUsage } from './limiter.js';
export { PRESET_OPERATIONS, OPERATION_QUOTAS, DATA_KEY_PAIR_QUOTAS, cryptoQuotas, awsPreset } from './presets.js';
export { THROTTLING_MESSAGE } from '../contract/errors.js';
