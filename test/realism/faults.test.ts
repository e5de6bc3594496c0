import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, THROTTLING_MESSAGE } from '../../src/contract/errors.js';
import { parseFaults, type Fault } from '../../src/realism/faults.js';
import { seededRandom } from '../support/seeded-random.js';

/** How often each outcome came up in `n` draws. */
function frequencies(n: number, draw: () => Fault | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const fault = draw();
    const name = fault === undefined ? 'none' : fault.kind === 'reset' ? 'reset' : fault.code;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([name, count]) => [name, count / n]));
}

describe('parseFaults', () => {
  it('injects nothing when empty, and uncovered operations draw no random number', () => {
    let calls = 0;
    const counting = () => { calls += 1; return 0; };
    expect(parseFaults('', counting).draw('Encrypt')).toBeUndefined();
    expect(parseFaults('ThrottlingException=1@Sign', counting).draw('Encrypt')).toBeUndefined();
    expect(calls).toBe(0);
  });

  it('answers with AWS codes and messages', () => {
    const always = (code: string) => parseFaults(`${code}=1@Encrypt`).draw('Encrypt');
    expect(always('ThrottlingException')).toEqual({ kind: 'error', code: 'ThrottlingException', message: THROTTLING_MESSAGE });
    expect(always('KMSInternalException')).toEqual({
      kind: 'error', code: 'KMSInternalException',
      message: 'The request was rejected because an internal exception occurred. The request can be retried.',
    });
    expect(always('DependencyTimeoutException')).toEqual({
      kind: 'error', code: 'DependencyTimeoutException',
      message: 'The system timed out while trying to fulfill the request. You can retry the request.',
    });
    expect(always('KeyUnavailableException')).toEqual({
      kind: 'error', code: 'KeyUnavailableException',
      message: 'The request was rejected because the specified KMS key was not available. You can retry the request.',
    });
    expect(always('reset')).toEqual({ kind: 'reset' });
    for (const code of ['ThrottlingException', 'KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException']) {
      expect(Object.hasOwn(ERROR_STATUS, code)).toBe(true);
    }
  });

  it('splits one draw across the rules covering an operation, in rule order', () => {
    const values = [0.05, 0.15, 0.35, 0.0999];
    const plan = parseFaults('ThrottlingException=0.1;KMSInternalException=20%', () => values.shift()!);
    expect(plan.draw('Encrypt')).toMatchObject({ code: 'ThrottlingException' });
    expect(plan.draw('Encrypt')).toMatchObject({ code: 'KMSInternalException' });
    expect(plan.draw('Encrypt')).toBeUndefined();
    expect(plan.draw('Encrypt')).toMatchObject({ code: 'ThrottlingException' });
  });

  it('injects each fault at about its probability, only on the operations it names', () => {
    const plan = parseFaults(
      'ThrottlingException=0.1@Encrypt,Decrypt;KMSInternalException=0.05;reset=0.02@crypto', seededRandom(42),
    );
    const encrypt = frequencies(100_000, () => plan.draw('Encrypt'));
    expect(encrypt.ThrottlingException).toBeGreaterThan(0.095);
    expect(encrypt.ThrottlingException).toBeLessThan(0.105);
    expect(encrypt.KMSInternalException).toBeGreaterThan(0.046);
    expect(encrypt.KMSInternalException).toBeLessThan(0.054);
    expect(encrypt.reset).toBeGreaterThan(0.017);
    expect(encrypt.reset).toBeLessThan(0.023);

    const createKey = frequencies(50_000, () => plan.draw('CreateKey'));
    expect(createKey.ThrottlingException).toBeUndefined();
    expect(createKey.reset).toBeUndefined();
    expect(createKey.KMSInternalException).toBeGreaterThan(0.045);
    expect(createKey.KMSInternalException).toBeLessThan(0.055);
  });

  it('accepts probabilities that add up to exactly 1', () => {
    const plan = parseFaults('ThrottlingException=0.7@Sign;KMSInternalException=0.2@Sign;reset=0.1@Sign', () => 0.999_999);
    expect(plan.draw('Sign')).toEqual({ kind: 'reset' });
  });

  it('rejects bad input with a message naming KMS_FAULTS', () => {
    for (const [value, pattern] of [
      ['ThrottlingException', /not FAULT=PROBABILITY/],
      ['SlowDown=0.1', /unknown fault "SlowDown"/],
      ['ThrottlingException=1.5', /not a probability/],
      ['ThrottlingException=-0.1', /not a probability/],
      ['ThrottlingException=150%', /not a probability/],
      ['ThrottlingException=abc', /not a probability/],
      ['ThrottlingException=0.1@Encrpyt', /"Encrpyt" is neither/],
      ['ThrottlingException=0.6;reset=0.5@Sign', /for Sign add up to more than 1/],
    ] as const) {
      expect(() => parseFaults(value), value).toThrow(new RegExp(`^KMS_FAULTS: .*${pattern.source}`));
    }
  });
});
