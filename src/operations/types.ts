import type { RequestContext } from './context.js';

export type Output = Record<string, unknown> | undefined;

/** One AWS KMS operation: input already decoded and validated against the model. */
export interface Operation {
  /** True for operations that change nothing (CloudTrail's readOnly). */
  readonly readOnly: boolean;
  run(input: Record<string, unknown>, ctx: RequestContext): Promise<Output>;
}
