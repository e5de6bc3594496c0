import { describe, expect, it } from 'vitest';
import { RsaKeyPairPool, parsePoolTargets, type RsaBits } from '../../workers/primitives/rsa-pool.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

/** A generator that counts calls and yields distinct fake pairs. */
function countingGenerator() {
  let calls = 0;
  const generate = async (bits: RsaBits) => {
    calls++;
    return { privateKey: Buffer.from(`private-${bits}-${calls}`), publicKey: Buffer.from(`public-${bits}-${calls}`) };
  };
  return { generate, calls: () => calls };
}

describe('KMS_RSA_POOL', () => {
  it('defaults to two RSA_2048 pairs and none larger', () => {
    expect(parsePoolTargets(undefined)).toEqual({ 2048: 2, 3072: 0, 4096: 0 });
  });
  it('takes a bare count for RSA_2048 or a per-size list', () => {
    expect(parsePoolTargets('5')).toEqual({ 2048: 5, 3072: 0, 4096: 0 });
    expect(parsePoolTargets('2048:1, 4096:3')).toEqual({ 2048: 1, 3072: 0, 4096: 3 });
  });
  it('rejects anything else', () => {
    expect(() => parsePoolTargets('1024:2')).toThrow(/KMS_RSA_POOL/);
    expect(() => parsePoolTargets('lots')).toThrow(/KMS_RSA_POOL/);
  });
});

describe('RsaKeyPairPool', () => {
  it('fills to its target ahead of time and refills after each take, handing every pair out once', async () => {
    const generator = countingGenerator();
    const pool = new RsaKeyPairPool({ 2048: 2, 3072: 0, 4096: 0 }, generator.generate);
    pool.warm();
    for (let i = 0; i < 5; i++) await flush();
    expect(pool.available(2048)).toBe(2);
    expect(pool.available(3072)).toBe(0);
    const first = await pool.take(2048);
    const second = await pool.take(2048);
    expect(first.publicKey.equals(second.publicKey)).toBe(false);
    for (let i = 0; i < 5; i++) await flush();
    expect(pool.available(2048)).toBe(2);
    expect(generator.calls()).toBe(4);
  });

  it('generates on demand when the stock is empty', async () => {
    const generator = countingGenerator();
    const pool = new RsaKeyPairPool({ 2048: 0, 3072: 0, 4096: 0 }, generator.generate);
    const pair = await pool.take(4096);
    expect(pair.privateKey.toString()).toBe('private-4096-1');
    expect(pool.available(4096)).toBe(0);
  });

  it('does not retry failed background generations in a loop', async () => {
    let calls = 0;
    const pool = new RsaKeyPairPool({ 2048: 2, 3072: 0, 4096: 0 }, async () => { calls++; throw new Error('boom'); });
    pool.warm();
    for (let i = 0; i < 10; i++) await flush();
    expect(calls).toBe(1);
  });
});
