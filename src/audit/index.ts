// The audit log's public surface: build a CloudTrail record per call, append it to the chained log, verify.
export { buildAuditRecord, buildServiceEventRecord, isReadOnlyOperation, type AuditCall, type AuditPrincipal, type AuditRecord, type ServiceEvent } from './record.js';
export { AuditLog, type AuditLogOptions } from './log.js';
export { runAuditVerifyCommand, verifyAuditLog, type AuditVerdict } from './verify.js';
