// A short mixed load for dashboard checks: successes on several operations, client errors, and a Sign flood
// over a small ecc quota so the throttle panels have something to show. Runs in the background until stopped.

import type { Answer, Caller } from '../e2e-quotas/flood.js';

export interface MixedLoad {
  /** Stops the loops and resolves with every answer they got. */
  stop(): Promise<Answer[]>;
}

const keyIdOf = (answer: Answer): string => {
  if (answer.code !== 'ok') throw new Error(`setup failed: ${answer.operation} answered ${answer.code}`);
  return (answer.body.KeyMetadata as { KeyId: string }).KeyId;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the keys it needs (one of them disabled, so keys-by-state has two states), then starts the loops. */
export async function startMixedLoad(call: Caller, options: { signLoops?: number; pauseMs?: number } = {}): Promise<MixedLoad> {
  const symmetric = keyIdOf(await call('CreateKey', {}));
  const ecc = keyIdOf(await call('CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
  const disabled = keyIdOf(await call('CreateKey', {}));
  await call('DisableKey', { KeyId: disabled });

  const answers: Answer[] = [];
  let running = true;
  const pause = options.pauseMs ?? 5;
  const loop = (step: (i: number) => Promise<void>, pauseMs: number) => (async () => {
    for (let i = 0; running; i++) {
      await step(i);
      if (pauseMs > 0) await sleep(pauseMs);
    }
  })();
  const loops = [
    loop(async (i) => {
      const encrypted = await call('Encrypt', { KeyId: symmetric, Plaintext: Buffer.from(`payload ${i}`).toString('base64') });
      answers.push(encrypted);
      if (encrypted.code === 'ok') answers.push(await call('Decrypt', { CiphertextBlob: encrypted.body.CiphertextBlob }));
    }, pause),
    loop(async () => { answers.push(await call('GenerateDataKey', { KeyId: symmetric, KeySpec: 'AES_256' })); }, pause),
    // Client errors: a ciphertext that is not one, and a disabled key.
    loop(async () => {
      answers.push(await call('Decrypt', { CiphertextBlob: Buffer.alloc(64, 1).toString('base64') }));
      answers.push(await call('Encrypt', { KeyId: disabled, Plaintext: 'AA==' }));
    }, 50),
    ...Array.from({ length: options.signLoops ?? 2 }, () => loop(async (i) => {
      answers.push(await call('Sign', { KeyId: ecc, SigningAlgorithm: 'ECDSA_SHA_256', Message: Buffer.from(`m ${i}`).toString('base64') }));
    }, 2)),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}
