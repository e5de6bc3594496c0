// KMS_LATENCY / KMS_FAULTS (syntax: src/realism/latency.ts and faults.ts): off unless set.
import { ConfigError, type Config } from './config.js';
import type { Realism } from './pipeline.js';
import { parseFaults, parseLatency } from './realism/index.js';

export function createRealism(config: Config): Realism | undefined {
  if (config.latency === undefined && config.faults === undefined) return undefined;
  try {
    const latency = config.latency === undefined ? undefined : parseLatency(config.latency);
    const faults = config.faults === undefined ? undefined : parseFaults(config.faults);
    return {
      delayMs: (operation) => latency?.delayMs(operation) ?? 0,
      draw: (operation) => faults?.draw(operation),
    };
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}
