// authenticate() end to end over headers the harness's signer makes: the checks that remember their last input
// (the X-Amz-Date stamp, the Authorization header's scope) must answer every request as if they did not.
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/authenticate.js';
import type { Principal } from '../../src/auth/identities.js';
import { signKmsRequest } from '../../src/auth/sigv4.js';
import { KmsError } from '../../src/protocol/errors.js';

const principal = {
  accessKeyId: 'AKIAAUTHENTICATETEST', secretAccessKey: 'authenticate-test-secret-key-0000000000',
  accountId: '111122223333', arn: 'arn:aws:iam::111122223333:user/tester', type: 'IAMUser', userName: 'tester',
} as Principal;
const lookup = (id: string): Principal | undefined => (id === principal.accessKeyId ? principal : undefined);

function signed(date: Date, body = '{"KeyId":"alias/test"}') {
  const headers = signKmsRequest({
    host: '127.0.0.1:4000', target: 'TrentService.Encrypt', body, accessKeyId: principal.accessKeyId,
    secretAccessKey: principal.secretAccessKey, region: 'us-east-1', date,
  });
  return { method: 'POST', path: '/', header: (name: string) => headers[name], body: Buffer.from(body), headers };
}

const codeOf = (run: () => unknown): string => {
  try {
    run();
    return 'accepted';
  } catch (error) {
    return error instanceof KmsError ? error.code : 'thrown';
  }
};

describe('authenticate', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');

  it('accepts the same stamp again, and judges its age against the clock of each call', () => {
    const request = signed(new Date(now));
    expect(authenticate(request, lookup, now)).toBe(principal);
    expect(authenticate(request, lookup, now + 60_000)).toBe(principal);
    expect(codeOf(() => authenticate(request, lookup, now + 6 * 60_000))).toBe('InvalidSignatureException');
    expect(codeOf(() => authenticate(request, lookup, now - 6 * 60_000))).toBe('InvalidSignatureException');
  });

  it('refuses a malformed or stale stamp right after a good one', () => {
    expect(authenticate(signed(new Date(now)), lookup, now)).toBe(principal);
    const malformed = signed(new Date(now));
    malformed.headers['x-amz-date'] = 'yesterday';
    expect(codeOf(() => authenticate(malformed, lookup, now))).toBe('IncompleteSignatureException');
    expect(codeOf(() => authenticate(signed(new Date(now - 10 * 60_000)), lookup, now))).toBe('InvalidSignatureException');
    expect(authenticate(signed(new Date(now + 1000)), lookup, now)).toBe(principal);
  });

  it('refuses a stamp whose fields name no real UTC time, rather than rolling it over', () => {
    // 20260531T360000Z would roll over to 1 June 12:00, the clock of this test.
    for (const stamp of ['20260531T360000Z', '20260601T120060Z', '20260601T126000Z', '20260631T120000Z', '20261301T120000Z']) {
      const request = signed(new Date(now));
      request.headers['x-amz-date'] = stamp;
      expect(codeOf(() => authenticate(request, lookup, now)), stamp).toBe('IncompleteSignatureException');
    }
    expect(authenticate(signed(new Date(now)), lookup, now)).toBe(principal);
  });

  it('refuses a changed signature or body under a remembered scope', () => {
    const good = signed(new Date(now));
    expect(authenticate(good, lookup, now)).toBe(principal);
    const forged = signed(new Date(now));
    forged.headers.authorization = forged.headers.authorization!.replace(/Signature=[0-9a-f]{64}$/, `Signature=${'0'.repeat(64)}`);
    expect(codeOf(() => authenticate(forged, lookup, now))).toBe('InvalidSignatureException');
    expect(codeOf(() => authenticate({ ...good, body: Buffer.from('{"KeyId":"alias/other"}') }, lookup, now))).toBe('InvalidSignatureException');
  });

  it('refuses any session token (the engine issues none) as an unknown credential; an empty header is no token', () => {
    const withToken = signed(new Date(now));
    withToken.headers['x-amz-security-token'] = 'FwoGZXIvYXdzEXAMPLE';
    expect(codeOf(() => authenticate(withToken, lookup, now))).toBe('UnrecognizedClientException');
    const empty = signed(new Date(now));
    empty.headers['x-amz-security-token'] = '';
    expect(authenticate(empty, lookup, now)).toBe(principal);
  });
});
