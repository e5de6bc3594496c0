// The SigV4 primitives the verifier runs on every request: the pad-based HMAC against node:crypto's Hmac and
// RFC 4231, the signature against AWS's published example, and the index-based parsers against the
// split/trim/regex versions they replaced (kept below as the reference), so no header is read differently.
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalRequest, computeSignature, hmacKey, hmacSha256Hex, parseAuthorization, signaturesEqual, signingKey, type ParsedAuthorization,
} from '../../src/auth/sigv4.js';

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

describe('hmacSha256Hex', () => {
  // RFC 4231 section 4, HMAC-SHA-256 results (test case 5 is truncated to 128 bits by the RFC).
  const vectors: { key: Buffer; data: Buffer; mac: string }[] = [
    { key: Buffer.alloc(20, 0x0b), data: Buffer.from('Hi There'), mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
    { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
    { key: Buffer.alloc(20, 0xaa), data: Buffer.alloc(50, 0xdd), mac: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe' },
    { key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), data: Buffer.alloc(50, 0xcd), mac: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b' },
    { key: Buffer.alloc(20, 0x0c), data: Buffer.from('Test With Truncation'), mac: 'a3b6167473100ee06e0c796c2955552b' },
    { key: Buffer.alloc(131, 0xaa), data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54' },
    {
      key: Buffer.alloc(131, 0xaa),
      data: Buffer.from('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      mac: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    },
  ];

  it('matches the RFC 4231 test vectors', () => {
    for (const { key, data, mac } of vectors) expect(hmacSha256Hex(hmacKey(key), data).slice(0, mac.length)).toBe(mac);
  });

  it('matches node:crypto Hmac for any key and any string or bytes', () => {
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.oneof(fc.string({ unit: 'binary', maxLength: 600 }), fc.uint8Array({ maxLength: 600 })),
      (key, message) => {
        expect(hmacSha256Hex(hmacKey(key), message)).toBe(createHmac('sha256', key).update(message).digest('hex'));
      },
    ), { numRuns: 1000 });
  });

  it('is unaffected by a longer message before it (the scratch buffer is reused)', () => {
    const key = hmacKey(Buffer.from('key'));
    hmacSha256Hex(key, 'x'.repeat(5000));
    expect(hmacSha256Hex(key, 'short')).toBe(createHmac('sha256', 'key').update('short').digest('hex'));
  });
});

describe('SigV4 signatures', () => {
  // AWS's worked example (IAM ListUsers, "Create a signed AWS API request"), same secret as the docs.
  const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

  it('derives the documented signing key', () => {
    expect(signingKey(secret, '20120215', 'us-east-1', 'iam').toString('hex'))
      .toBe('f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });

  it('computes the documented signature', () => {
    const canonical = 'GET\n/\nAction=ListUsers&Version=2010-05-08\n'
      + 'content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n'
      + 'content-type;host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(computeSignature(secret, '20150830T123600Z', '20150830', 'us-east-1', 'iam', canonical))
      .toBe('5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7');
  });

  it('agrees with the four chained Hmacs for any scope, across cache hits and switches of scope', () => {
    const reference = (key: string, date: string, region: string, service: string, message: string): string => {
      let k = createHmac('sha256', `AWS4${key}`).update(date).digest();
      for (const part of [region, service, 'aws4_request']) k = createHmac('sha256', k).update(part).digest();
      return createHmac('sha256', k).update(message).digest('hex');
    };
    fc.assert(fc.property(
      fc.constantFrom('s1', 's2'), fc.constantFrom('20260101', '20260102'), fc.constantFrom('us-east-1', 'eu-west-1', 'ünï'),
      fc.constantFrom('kms', 'iam'), fc.string(),
      (key, date, region, service, canonical) => {
        // The canonical request's hash through a Hash object, not the crypto.hash the code uses.
        const canonicalHash = createHash('sha256').update(canonical).digest('hex');
        const expected = reference(key, date, region, service,
          `AWS4-HMAC-SHA256\n20260101T000000Z\n${date}/${region}/${service}/aws4_request\n${canonicalHash}`);
        expect(computeSignature(key, '20260101T000000Z', date, region, service, canonical)).toBe(expected);
      },
    ), { numRuns: 300 });
  });
});

/** The parser as it was before it worked by index: the reference the new one must agree with on any input. */
function referenceParseAuthorization(header: string): ParsedAuthorization | null {
  if (!header.startsWith('AWS4-HMAC-SHA256 ')) return null;
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const part of header.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq < 0) continue;
    const name = trimmed.slice(0, eq);
    const value = trimmed.slice(eq + 1);
    if (name === 'Credential') credential = value;
    else if (name === 'SignedHeaders') signedHeaders = value;
    else if (name === 'Signature') signature = value;
  }
  if (!credential || !signedHeaders || !signature) return null;
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request') return null;
  const [accessKeyId, date, region, service] = scope as [string, string, string, string];
  if (!/^[0-9a-f]{64}$/.test(signature)) return null;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

const SIGNATURE = '4ae9d09b0fa70fd7e028a2bba53f6fdb7d4ddcd86bb56726aa05a97d2093daeb';
const VALID = `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIGNATURE}`;

describe('parseAuthorization', () => {
  it('reads a botocore header', () => {
    expect(parseAuthorization(VALID)).toEqual({
      accessKeyId: 'AKID', date: '20260101', region: 'us-east-1', service: 'kms', signedHeaders: ['host', 'x-amz-date'], signature: SIGNATURE,
    });
  });

  it('agrees with the split/trim/regex parser on near-valid and arbitrary headers', () => {
    // Every whitespace character trim() removes, a few it does not, and the header's own punctuation.
    const pieces = [
      'AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256', 'Credential=', 'SignedHeaders=', 'Signature=', 'Credential', 'Signature ', ',', ', ',
      '=', '/', ';', ' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f',
      '\u205f', '\u3000', '\ufeff', '\u180e', '\u200b', '\u0085', 'aws4_request', 'AKID', '20260101', 'us-east-1', 'kms', 'host',
      'x-amz-date', SIGNATURE, SIGNATURE.toUpperCase(), SIGNATURE.slice(1), 'g', 'ü',
    ];
    const arbitrary = fc.array(fc.constantFrom(...pieces), { maxLength: 24 }).map((parts) => parts.join(''));
    // Valid headers with one piece inserted somewhere: the edges of the grammar.
    const mutated = fc.tuple(fc.integer({ min: 0, max: VALID.length }), fc.constantFrom(...pieces), fc.nat(3))
      .map(([at, piece, cut]) => VALID.slice(0, at) + piece + VALID.slice(at + cut));
    fc.assert(fc.property(fc.oneof(arbitrary, mutated, fc.string({ unit: 'binary' })), (header) => {
      expect(parseAuthorization(header)).toEqual(referenceParseAuthorization(header));
    }), { numRuns: 20_000 });
  });
});

describe('parseAuthorization on consecutive headers', () => {
  // parseAuthorization remembers the last header up to its signature; the next one with that prefix is read
  // from memory. Whatever came before, each header must still parse exactly as the reference parser reads it.
  const tailChars = [...'0123456789abcdef', 'A', 'g', ' ', ',', '=', '\u00e9'];
  const tail = fc.array(fc.constantFrom(...tailChars), { minLength: 60, maxLength: 68 }).map((chars) => chars.join(''));
  const first = fc.oneof(fc.constant(VALID), fc.constant(`${VALID} `), fc.constant(`${VALID}, Signature=${SIGNATURE}`),
    fc.constant(VALID.replace('Credential=AKID', 'Credential=OTHER')),
    fc.constant(`AWS4-HMAC-SHA256 Signature=${SIGNATURE}, Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;${SIGNATURE}`));

  it('reads a new signature after the same prefix, and nothing else from memory', () => {
    fc.assert(fc.property(first, tail, (previous, signature) => {
      parseAuthorization(previous);
      const next = previous.slice(0, previous.length - 64) + signature;
      expect(parseAuthorization(next)).toEqual(referenceParseAuthorization(next));
      expect(parseAuthorization(previous)).toEqual(referenceParseAuthorization(previous));
    }), { numRuns: 5_000 });
  });

  it('answers a remembered prefix with the signature of the header in hand', () => {
    const other = 'f'.repeat(64);
    expect(parseAuthorization(VALID)?.signature).toBe(SIGNATURE);
    expect(parseAuthorization(VALID.replace(SIGNATURE, other))).toEqual({ ...referenceParseAuthorization(VALID), signature: other });
  });
});

describe('signaturesEqual', () => {
  it('compares hex signatures, and any other strings by their bytes', () => {
    expect(signaturesEqual(SIGNATURE, SIGNATURE.slice())).toBe(true);
    expect(signaturesEqual(SIGNATURE, `${SIGNATURE.slice(0, 63)}0`)).toBe(false);
    expect(signaturesEqual(SIGNATURE, `0${SIGNATURE.slice(1)}`)).toBe(false);
    expect(signaturesEqual(SIGNATURE, SIGNATURE.slice(1))).toBe(false);
    expect(signaturesEqual(SIGNATURE, SIGNATURE.toUpperCase())).toBe(false);
    expect(signaturesEqual('\u00e9'.repeat(64), '\u00e8'.repeat(64))).toBe(false);
    expect(signaturesEqual('\u00e9'.repeat(64), '\u00e9'.repeat(64))).toBe(true);
    expect(signaturesEqual('', '')).toBe(true);
  });
});

describe('canonicalRequest', () => {
  const referenceCollapse = (value: string): string => value.trim().replace(/\s+/g, ' ');

  it('trims header values and collapses their inner whitespace as before', () => {
    const value = fc.array(fc.constantFrom('a', 'b', ' ', '  ', '\t', '\u00a0', '\u3000', '\n', 'x y'), { maxLength: 12 })
      .map((parts) => parts.join(''));
    fc.assert(fc.property(value, (headerValue) => {
      const canonical = canonicalRequest('POST', '/', () => headerValue, ['h'], 'p');
      expect(canonical).toBe(`POST\n/\n\nh:${referenceCollapse(headerValue)}\n\nh\np`);
    }), { numRuns: 2000 });
  });
});
