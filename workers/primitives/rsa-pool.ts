// A small per-worker stock of RSA key pairs generated ahead of time. RSA generation costs 80 ms to over a
// second (ceilings.md), above what CreateKey / GenerateDataKeyPair callers expect, so each take() hands out
// a pair generated earlier and starts one replacement in the background. Every pair is handed out once.
//
// Size: KMS_RSA_POOL="N" keeps N RSA_2048 pairs (and none of the larger sizes); the long form
// "2048:N,3072:M,4096:K" sets each size. Default: 2 RSA_2048 pairs, none larger.
import { generateDerKeyPair, type DerKeyPair } from './pkcs8.js';

export type RsaBits = 2048 | 3072 | 4096;
const SIZES: readonly RsaBits[] = [2048, 3072, 4096];

export function parsePoolTargets(setting: string | undefined): Record<RsaBits, number> {
  const targets: Record<RsaBits, number> = { 2048: 2, 3072: 0, 4096: 0 };
  const text = setting?.trim();
  if (!text) return targets;
  if (/^\d+$/.test(text)) return { ...targets, 2048: Number(text) };
  for (const entry of text.split(',')) {
    const match = /^\s*(2048|3072|4096)\s*:\s*(\d+)\s*$/.exec(entry);
    if (!match) throw new Error(`KMS_RSA_POOL: expected "N" or "2048:N,3072:N,4096:N", got "${text}"`);
    targets[Number(match[1]) as RsaBits] = Number(match[2]);
  }
  return targets;
}

export class RsaKeyPairPool {
  private readonly ready = new Map<RsaBits, DerKeyPair[]>(SIZES.map((bits) => [bits, []]));
  /** Generations in flight per size: refills run one at a time per size so a burst cannot flood the CPU. */
  private readonly filling = new Set<RsaBits>();

  constructor(private readonly targets: Record<RsaBits, number>,
              private readonly generate: (bits: RsaBits) => Promise<DerKeyPair> =
                (bits) => generateDerKeyPair({ type: 'rsa', modulusLength: bits })) {}

  /** Starts filling every size up to its target (call once at worker start). */
  warm(): void {
    for (const bits of SIZES) this.refill(bits);
  }

  /** A fresh pair: from stock when there is one, else generated now. Either way the stock is topped up. */
  async take(bits: RsaBits): Promise<DerKeyPair> {
    const pair = this.ready.get(bits)!.shift();
    this.refill(bits);
    return pair ?? this.generate(bits);
  }

  available(bits: RsaBits): number {
    return this.ready.get(bits)!.length;
  }

  private refill(bits: RsaBits): void {
    if (this.filling.has(bits) || this.ready.get(bits)!.length >= this.targets[bits]) return;
    this.filling.add(bits);
    this.generate(bits).then(
      (pair) => {
        this.filling.delete(bits);
        this.ready.get(bits)!.push(pair);
        this.refill(bits);
      },
      () => {
        // A failed background generation is not retried in a loop: the next take() tries again.
        this.filling.delete(bits);
      },
    );
  }
}

let workerPool: RsaKeyPairPool | undefined;

/** The worker's pool, sized from KMS_RSA_POOL on first use. */
export function rsaKeyPairPool(): RsaKeyPairPool {
  workerPool ??= new RsaKeyPairPool(parsePoolTargets(process.env['KMS_RSA_POOL']));
  return workerPool;
}
