// KMS_LATENCY / KMS_FAULTS: off unless set.
import type { Config } from './config.js';
import type { Realism } from './pipeline.js';

export function createRealism(config: Config): Realism | undefined {
  if (config.latency === undefined && config.faults === undefined) return undefined;
  return undefined;
}
