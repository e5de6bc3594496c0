// GetKeyPolicy, PutKeyPolicy, ListKeyPolicies: one policy per key, named "default".
import { KmsError } from '../protocol/errors.js';
import { manageKey } from './keys.js';
import type { Operation } from './types.js';

function requireDefaultName(name: unknown): void {
  if (name !== undefined && name !== 'default') throw new KmsError('NotFoundException', 'No such policy exists');
}

export const getKeyPolicy: Operation = {
  readOnly: true,
  async run(input, ctx) {
    requireDefaultName(input.PolicyName);
    const key = await manageKey(ctx, 'kms:GetKeyPolicy');
    return { Policy: key.policy, PolicyName: 'default' };
  },
};

export const putKeyPolicy: Operation = {
  readOnly: false,
  async run(input, ctx) {
    requireDefaultName(input.PolicyName);
    const key = await manageKey(ctx, 'kms:PutKeyPolicy');
    const policy = input.Policy as string;
    ctx.engine.access.validateKeyPolicy(policy, ctx.caller, input.BypassPolicyLockoutSafetyCheck === true,
      { arn: key.arn, key, sourceIp: ctx.sourceIp, secureTransport: ctx.secureTransport });
    await ctx.keyring.mutate(key.keyId, (draft) => {
      draft.policy = policy;
    });
    return undefined;
  },
};

export const listKeyPolicies: Operation = {
  readOnly: true,
  async run(_input, ctx) {
    await manageKey(ctx, 'kms:ListKeyPolicies');
    return { PolicyNames: ['default'], Truncated: false };
  },
};
