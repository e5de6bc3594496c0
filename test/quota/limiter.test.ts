import { describe, expect, it } from 'vitest';
import { parseQuotas, QuotaLimiter, quotaClassFor, throttlingError } from '../../src/quota/index.js';
import { ERROR_STATUS, THROTTLING_MESSAGE } from '../../src/contract/errors.js';

/** A clock the test moves by hand, in milliseconds. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

/**
 * A sustained flood: `perSecond` attempts per second spread evenly over `seconds`. Returns what was admitted
 * in each one-second interval.
 */
function flood(limiter: QuotaLimiter, clock: ReturnType<typeof fakeClock>, account: string, quotaClass: string,
  seconds: number, perSecond: number): number[] {
  const admitted: number[] = [];
  const step = 1000 / perSecond;
  for (let s = 0; s < seconds; s++) {
    let count = 0;
    for (let i = 0; i < perSecond; i++) {
      if (limiter.take(account, quotaClass)) count++;
      clock.advance(step);
    }
    admitted.push(count);
  }
  return admitted;
}

describe('QuotaLimiter', () => {
  it('admits about N per second under a sustained flood (after the first second s burst)', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('ecc=100', 'us-east-1'), clock.now);
    const admitted = flood(limiter, clock, '111122223333', 'ecc', 10, 5_000);
    // The first second may add one bucket's worth (capacity = rate) on top: never more than 2N.
    expect(admitted[0]).toBeGreaterThanOrEqual(100);
    expect(admitted[0]).toBeLessThanOrEqual(201);
    for (const perSecond of admitted.slice(1)) {
      expect(perSecond).toBeGreaterThanOrEqual(99);
      expect(perSecond).toBeLessThanOrEqual(101);
    }
    const total = admitted.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(100 * 10);
    expect(total).toBeLessThanOrEqual(100 * 11 + 1);
  });

  it('holds a high rate (100,000/s) within 1%', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('aws', 'us-east-1'), clock.now);
    const admitted = flood(limiter, clock, 'acct', 'symmetric', 3, 300_000);
    for (const perSecond of admitted.slice(1)) expect(Math.abs(perSecond - 100_000)).toBeLessThanOrEqual(1_000);
  });

  it('fractional rates: 0.5/s admits one request every two seconds', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('GetParametersForImport=0.5', 'us-east-1'), clock.now);
    const admitted = flood(limiter, clock, 'acct', 'GetParametersForImport', 20, 50);
    const total = admitted.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(10);
    expect(total).toBeLessThanOrEqual(11);
    expect(Math.max(...admitted)).toBe(1);
  });

  it('fractional rates above one: 2.5/s admits 5 every two seconds', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('rsa=2.5', 'us-east-1'), clock.now);
    const admitted = flood(limiter, clock, 'acct', 'rsa', 20, 100);
    const steady = admitted.slice(1).reduce((a, b) => a + b, 0);
    expect(steady).toBeGreaterThanOrEqual(47);
    expect(steady).toBeLessThanOrEqual(48);
  });

  it('counts per account: one account throttled does not throttle another', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('CreateKey=5', 'us-east-1'), clock.now);
    for (let i = 0; i < 5; i++) expect(limiter.take('a', 'CreateKey')).toBe(true);
    expect(limiter.take('a', 'CreateKey')).toBe(false);
    for (let i = 0; i < 5; i++) expect(limiter.take('b', 'CreateKey')).toBe(true);
    expect(limiter.take('b', 'CreateKey')).toBe(false);
    clock.advance(200);
    expect(limiter.take('a', 'CreateKey')).toBe(true);
    expect(limiter.take('a', 'CreateKey')).toBe(false);
  });

  it('counts per class: classes are independent, unlimited classes always pass', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('rsa=2,ecc=3', 'us-east-1'), clock.now);
    expect([1, 2, 3].map(() => limiter.take('a', 'rsa'))).toEqual([true, true, false]);
    expect([1, 2, 3, 4].map(() => limiter.take('a', 'ecc'))).toEqual([true, true, true, false]);
    for (let i = 0; i < 10_000; i++) expect(limiter.take('a', 'symmetric')).toBe(true);
    expect(limiter.limitOf('rsa')).toBe(2);
    expect(limiter.limitOf('symmetric')).toBeUndefined();
  });

  it('never stores more than one second of tokens after idling', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('ecc=10', 'us-east-1'), clock.now);
    limiter.take('a', 'ecc');
    clock.advance(60_000);
    let admitted = 0;
    while (limiter.take('a', 'ecc')) admitted++;
    expect(admitted).toBe(10);
  });

  it('snapshot reports every limited class with the busiest account s use of the current second', () => {
    const clock = fakeClock(0);
    const limiter = new QuotaLimiter(parseQuotas('ecc=100,rsa=10', 'us-east-1'), clock.now);
    for (let i = 0; i < 30; i++) limiter.take('a', 'ecc');
    for (let i = 0; i < 70; i++) limiter.take('b', 'ecc');
    expect(limiter.snapshot()).toEqual([
      { quotaClass: 'ecc', limit: 100, usedThisSecond: 70 },
      { quotaClass: 'rsa', limit: 10, usedThisSecond: 0 },
    ]);
    clock.advance(1_000); // early in the next second: still shows the last full second
    limiter.take('b', 'ecc');
    expect(limiter.snapshot()[0]!.usedThisSecond).toBe(70);
    clock.advance(3_000); // quiet
    expect(limiter.snapshot()[0]!.usedThisSecond).toBe(0);
  });

  it('throttled requests answer ThrottlingException with AWS s message and HTTP 400', () => {
    const error = throttlingError();
    expect(error.code).toBe('ThrottlingException');
    expect(error.message).toBe(THROTTLING_MESSAGE);
    expect(ERROR_STATUS[error.code]).toBe(400);
  });
});

describe('quotaClassFor', () => {
  it.each([
    ['Encrypt', 'symmetric', 'symmetric'], ['Decrypt', 'symmetric', 'symmetric'], ['ReEncrypt', 'symmetric', 'symmetric'],
    ['GenerateDataKey', 'symmetric', 'symmetric'], ['GenerateDataKeyWithoutPlaintext', 'symmetric', 'symmetric'],
    ['GenerateMac', 'symmetric', 'symmetric'], ['VerifyMac', 'symmetric', 'symmetric'],
    ['Encrypt', 'rsa', 'rsa'], ['Decrypt', 'rsa', 'rsa'], ['ReEncrypt', 'rsa', 'rsa'], ['Sign', 'rsa', 'rsa'], ['Verify', 'rsa', 'rsa'],
    ['Sign', 'ecc', 'ecc'], ['Verify', 'ecc', 'ecc'], ['DeriveSharedSecret', 'ecc', 'ecc'],
    ['Sign', 'ml_dsa', 'ml_dsa'], ['Verify', 'ml_dsa', 'ml_dsa'],
    ['Encapsulate', 'ml_kem', 'ml_kem'], ['Decapsulate', 'ml_kem', 'ml_kem'],
  ] as const)('%s with a %s key -> %s', (operation, keyClass, expected) => {
    expect(quotaClassFor(operation, keyClass)).toEqual([expected]);
  });

  it('GenerateRandom and symmetric-only operations need no key class', () => {
    expect(quotaClassFor('GenerateRandom')).toEqual(['symmetric']);
    expect(quotaClassFor('GenerateMac')).toEqual(['symmetric']);
  });

  it('GenerateDataKeyPair* count against their KeyPairSpec quota, not the key s crypto quota', () => {
    expect(quotaClassFor('GenerateDataKeyPair', 'symmetric', 'RSA_2048')).toEqual(['datakeypair:RSA_2048']);
    expect(quotaClassFor('GenerateDataKeyPairWithoutPlaintext', 'symmetric', 'ECC_NIST_P256')).toEqual(['datakeypair:ECC_NIST_P256']);
  });

  it('management operations count against their own name', () => {
    expect(quotaClassFor('CreateKey')).toEqual(['CreateKey']);
    expect(quotaClassFor('DescribeKey', 'rsa')).toEqual(['DescribeKey']);
    expect(quotaClassFor('GetPublicKey', 'ecc')).toEqual(['GetPublicKey']);
  });

  it('returns the same frozen array every time (no allocation on the hot path)', () => {
    expect(quotaClassFor('Sign', 'ecc')).toBe(quotaClassFor('Verify', 'ecc'));
    expect(quotaClassFor('CreateKey')).toBe(quotaClassFor('CreateKey'));
    expect(Object.isFrozen(quotaClassFor('CreateKey'))).toBe(true);
  });

  it('a crypto operation without its key class is a programming error', () => {
    expect(() => quotaClassFor('Sign')).toThrow(TypeError);
    expect(() => quotaClassFor('GenerateDataKeyPair', 'symmetric')).toThrow(TypeError);
  });

  it('the classes it names are the ones the aws preset limits', () => {
    const limits = parseQuotas('aws', 'us-east-1').limits;
    for (const classes of [quotaClassFor('Sign', 'ml_dsa'), quotaClassFor('GenerateDataKeyPair', undefined, 'RSA_4096'),
      quotaClassFor('CreateGrant'), quotaClassFor('GenerateRandom')]) {
      expect(limits.has(classes[0]!)).toBe(true);
    }
  });
});
