// Realism knobs for pipeline load tests: KMS_LATENCY and KMS_FAULTS (syntax in latency.ts and faults.ts).
export { parseLatency, type LatencyPlan } from './latency.js';
export { parseFaults, type Fault, type FaultPlan } from './faults.js';
export type { RandomSource } from './targets.js';
