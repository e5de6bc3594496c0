// The audit chain hashes canonical JSON (keys sorted at every depth). Records from buildAuditRecord are built in
// that order and serialized with JSON.stringify; any other object goes through canonicalJson. Either way a line
// must be byte for byte what the chain wrote before that shortcut existed: the reference below is that writer.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { canonicalJson, chainLine, readLink, recomputeHash, SortedRecord } from '../../src/audit/chain.js';
import { arnAccount, buildAuditRecord, cloudTrailEventTime, type AuditCall, type AuditPrincipal } from '../../src/audit/record.js';
import { SERVICE_MODEL } from '../../src/protocol/validate.js';

/** chainLine as it was when every record went through canonicalJson and a Hash object. */
function referenceChainLine(record: object, seq: number, prev: string, node: string | undefined): string {
  const body = canonicalJson(record);
  const unhashed = { seq, prev, ...(node !== undefined ? { node } : {}) };
  const unhashedJson = canonicalJson(unhashed);
  const hash = createHash('sha256').update(Buffer.from(prev, 'hex')).update(unhashedJson, 'utf8').update(body, 'utf8').digest('hex');
  return `{"chain":{"hash":"${hash}",${unhashedJson.slice(1)}${body === '{}' ? '' : `,${body.slice(1, -1)}`}}\n`;
}

// Map keys a client may send that sort differently from how JavaScript enumerates them, or that are special.
const awkwardKey = fc.oneof(
  fc.constantFrom('10', '9', '2', '0', '01', '-1', '1.5', '4294967294', '4294967295', '__proto__', 'constructor', 'toString',
    'a', 'B', 'aws:tag', 'ü', '\u{1F600}', ''),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('"\\\n\u2028', '</script>'));

/** Values of a model shape (the way a client could send them after decoding), now and then of the wrong type. */
function valueOf(shapeName: string, depth: number): fc.Arbitrary<unknown> {
  const shape = SERVICE_MODEL.shapes[shapeName];
  if (shape === undefined || depth > 4) return fc.constant(undefined);
  const wrongType = fc.oneof(fc.constant(null), fc.integer(), text, fc.boolean(), fc.constant([]), fc.constant({}));
  let right: fc.Arbitrary<unknown>;
  switch (shape.type) {
    case 'structure': {
      const members: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, member] of Object.entries(shape.members ?? {})) members[name] = valueOf(member.shape, depth + 1);
      right = fc.record(members, { requiredKeys: [] });
      break;
    }
    case 'list': right = fc.array(valueOf(shape.member!.shape, depth + 1), { maxLength: 3 }); break;
    case 'map': right = fc.dictionary(awkwardKey, valueOf(shape.value!.shape, depth + 1), { maxKeys: 5, noNullPrototype: true }); break;
    case 'string': right = shape.enum !== undefined ? fc.oneof(fc.constantFrom(...shape.enum), text) : text; break;
    case 'blob': right = fc.oneof(text, fc.uint8Array({ maxLength: 4 }).map((bytes) => Buffer.from(bytes))); break;
    case 'integer': case 'long': right = fc.oneof(fc.integer(), fc.double()); break;
    case 'boolean': right = fc.boolean(); break;
    case 'timestamp': right = fc.oneof(fc.integer({ min: 0, max: 4_000_000_000 }), fc.date(), fc.double(), text); break;
    default: right = fc.constant(undefined);
  }
  return fc.oneof({ arbitrary: right, weight: 6 }, { arbitrary: wrongType, weight: 1 });
}

const operations = Object.keys(SERVICE_MODEL.operations);
const rarely = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary, weight: 1 });
const principal: fc.Arbitrary<AuditPrincipal | undefined> = fc.option(fc.record({
  arn: fc.constantFrom('arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:user/alice',
    'arn:aws:sts::111122223333:assumed-role/app/worker-1', 'not-an-arn'),
  accountId: fc.constantFrom('111122223333', '444455556666'),
  accessKeyId: fc.constantFrom('AKIDEXAMPLE', 'AKIDOTHER'),
  type: fc.constantFrom('Root', 'IAMUser', 'AssumedRole'),
  userName: fc.option(fc.constantFrom('alice', 'bob'), { nil: undefined }),
}, { requiredKeys: ['arn', 'accountId', 'accessKeyId', 'type'] }), { nil: undefined });
const arn = fc.oneof(
  fc.constantFrom('arn:aws:kms:us-east-1:111122223333:key/k1', 'arn:aws:kms:us-east-1:444455556666:alias/a', 'arn:aws:kms:us-east-1::key/x', 'not-an-arn'),
  text,
);

const auditCall: fc.Arbitrary<AuditCall> = fc.constantFrom(...operations).chain((operation) => {
  const { input, output } = SERVICE_MODEL.operations[operation]!;
  return fc.record({
    operation: fc.constant(operation),
    requestId: fc.uuid(),
    eventTime: fc.date({ noInvalidDate: true }),
    principal,
    // The access key id an unauthenticated request named (recorded when principal is undefined).
    presentedAccessKeyId: fc.option(fc.constantFrom('AKIDEXAMPLE', 'AKIAREMOVED'), { nil: undefined }),
    sourceIPAddress: fc.constantFrom('127.0.0.1', '::1'),
    userAgent: text,
    region: fc.constantFrom('us-east-1', 'eu-west-1'),
    request: fc.option(input !== undefined ? valueOf(input, 0) as fc.Arbitrary<Record<string, unknown>> : fc.constant({}), { nil: undefined }),
    response: fc.option(output !== undefined ? valueOf(output, 0) as fc.Arbitrary<Record<string, unknown>> : fc.constant({}), { nil: undefined }),
    error: fc.option(fc.record({ code: fc.constantFrom('NotFoundException', 'ValidationException'), message: text }), { nil: undefined }),
    keyArns: fc.array(arn, { maxLength: 2 }),
    aliasArns: fc.option(fc.array(arn, { maxLength: 2 }), { nil: undefined }),
    readOnly: fc.boolean(),
    nodeId: fc.option(fc.constantFrom('node-a', 'node-b'), { nil: undefined }),
    keyMaterial: fc.option(fc.record({ keyMaterialId: fc.option(text, { nil: undefined }),
      sourceKeyMaterialId: fc.option(text, { nil: undefined }), destinationKeyMaterialId: fc.option(text, { nil: undefined }) }), { nil: undefined }),
    // Objects the caller hands over as they are (the pipeline passes neither today): now and then.
    additionalEventData: rarely(fc.dictionary(awkwardKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })),
    tlsDetails: rarely(fc.record({ tlsVersion: fc.constant('TLSv1.3'), cipherSuite: text, clientProvidedHostHeader: text })),
  }, { requiredKeys: ['operation', 'requestId', 'eventTime', 'principal', 'sourceIPAddress', 'userAgent', 'region', 'request', 'keyArns', 'readOnly'] })
    // Records are built from what decodeInput and the operations produce: plain objects (null members are absent).
    .filter((call) => (call.request === undefined || isObject(call.request)) && (call.response === undefined || isObject(call.response)));
});

const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value);
const chainArgs = fc.tuple(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.option(fc.constantFrom('node-a', 'nöde'), { nil: undefined }));

describe('chainLine', () => {
  it('writes exactly the canonical line for any record buildAuditRecord makes', () => {
    let sorted = 0;
    fc.assert(fc.property(auditCall, chainArgs, (call, [seq, prevBytes, node]) => {
      const record = buildAuditRecord(call);
      const prev = Buffer.from(prevBytes).toString('hex');
      const { line, link } = chainLine(record, seq, prev, node);
      expect(line).toBe(referenceChainLine(record, seq, prev, node));
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(readLink(parsed)).toEqual(link);
      expect(recomputeHash(parsed, link)).toBe(link.hash);
      if (record instanceof SortedRecord) sorted += 1;
    }), { numRuns: 1500 });
    // Most records take the shortcut (no sorting at all), and the line above proves it exact for them.
    expect(sorted).toBeGreaterThan(1000);
  });

  it('serializes a sorted record by its shape, not by falling back to JSON.stringify of the whole record', () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      fc.assert(fc.property(auditCall, (call) => {
        const record = buildAuditRecord(call);
        if (!(record instanceof SortedRecord)) return;
        stringify.mockClear();
        record.toCanonicalJson();
        expect(stringify.mock.calls.some(([value]) => value === record)).toBe(false);
      }), { numRuns: 300 });
    } finally {
      stringify.mockRestore();
    }
  });

  it('serializes a record without a client map or caller-supplied object as JSON.stringify does', () => {
    const quiet = auditCall.map((call) => ({ ...call, additionalEventData: undefined, tlsDetails: undefined }))
      .filter((call) => !JSON.stringify([call.request, call.response]).match(/"\d/));
    fc.assert(fc.property(quiet, (call) => {
      const record = buildAuditRecord(call);
      expect(JSON.stringify(record)).toBe(canonicalJson(record));
    }), { numRuns: 500 });
  });

  it('writes exactly the canonical line for any other object, including ones a builder did not sort', () => {
    fc.assert(fc.property(fc.object({ withNullPrototype: true, withDate: true }), chainArgs, (record, [seq, prevBytes, node]) => {
      if ('chain' in record) return;
      const prev = Buffer.from(prevBytes).toString('hex');
      expect(chainLine(record, seq, prev, node).line).toBe(referenceChainLine(record, seq, prev, node));
    }), { numRuns: 500 });
  });

  it('hashes records larger than its scratch buffer, multi-byte text included', () => {
    const record = buildAuditRecord({
      operation: 'CreateKey', requestId: 'r', eventTime: new Date(0), principal: undefined, sourceIPAddress: '127.0.0.1', userAgent: 'ü'.repeat(3000),
      region: 'us-east-1', request: { Description: '✓\u{1F600}'.repeat(6000), Tags: [{ TagKey: '10', TagValue: 'x' }] }, keyArns: [], readOnly: false,
    });
    const prev = 'ab'.repeat(32);
    expect(chainLine(record, 7, prev, 'node').line).toBe(referenceChainLine(record, 7, prev, 'node'));
    // And the next, small one is unaffected by what the large one left behind.
    const small = { eventName: 'x' };
    expect(chainLine(small, 8, prev, undefined).line).toBe(referenceChainLine(small, 8, prev, undefined));
  });
});

describe('record parts computed once', () => {
  it('renders eventTime as toISOString to the second, for any sequence of dates', () => {
    const dates = fc.array(fc.oneof(fc.date({ noInvalidDate: true }), fc.constant(new Date(1_700_000_000_999)), fc.constant(new Date(1_700_000_000_000)),
      fc.constant(new Date(-1)), fc.constant(new Date(0))), { maxLength: 6 });
    fc.assert(fc.property(dates, (sequence) => {
      for (const date of sequence) expect(cloudTrailEventTime(date)).toBe(`${date.toISOString().slice(0, 19)}Z`);
    }));
    expect(() => cloudTrailEventTime(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('reads an ARN account as the fifth colon-separated field', () => {
    const reference = (value: string): string | undefined => {
      const account = value.split(':')[4];
      return account === undefined || account === '' ? undefined : account;
    };
    const arnLike = fc.array(fc.constantFrom('arn', 'aws', 'kms', ':', '::', '111122223333', 'key/k', ''), { maxLength: 10 }).map((parts) => parts.join(''));
    fc.assert(fc.property(fc.oneof(arnLike, fc.string()), (value) => {
      expect(arnAccount(value)).toBe(reference(value));
    }), { numRuns: 2000 });
  });

  it('shares one frozen userIdentity per principal and notices a changed principal', () => {
    const who: AuditPrincipal = { arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'AKID1', type: 'IAMUser', userName: 'alice' };
    const call: AuditCall = {
      operation: 'ListKeys', requestId: 'r', eventTime: new Date(0), principal: who, sourceIPAddress: '127.0.0.1', userAgent: 'ua',
      region: 'us-east-1', request: {}, keyArns: [], readOnly: true,
    };
    const first = buildAuditRecord(call).userIdentity;
    expect(buildAuditRecord(call).userIdentity).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    who.accessKeyId = 'AKID2';
    expect(buildAuditRecord(call).userIdentity).toEqual({ ...first, accessKeyId: 'AKID2' });
  });

  it('no model member name is a property every object inherits (the converter reads members by name)', () => {
    for (const shape of Object.values(SERVICE_MODEL.shapes)) {
      for (const name of Object.keys(shape.members ?? {})) expect(name in Object.prototype).toBe(false);
    }
  });
});
