// What the per-request bookkeeping costs on the main thread, single-threaded and in-process: recording a
// request's metrics, charging a request quota, authenticating a SigV4 request, decoding the input against the
// model, building and chaining an audit record. Each piece of those has its own line, so a change to one shows
// up in isolation. Best of five rounds: the fastest round is the code's cost, the slower ones measure the noisy
// machine.
//
//   npm run build && node dist/bench/micro/hot-path.js [FILTER]   (FILTER: only lines whose name contains it)
import { arnAccount, buildAuditRecord, cloudTrailEventTime } from '../../src/audit/record.js';
import { appendChainedLine, canonicalJson, LineBuffer } from '../../src/audit/chain.js';
import { requestElements } from '../../src/audit/shapes.js';
import { authenticate } from '../../src/auth/authenticate.js';
import type { Principal } from '../../src/auth/identities.js';
import {
  canonicalRequest, computeSignature, parseAuthorization, sha256Hex, signKmsRequest,
} from '../../src/auth/sigv4.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { decodeBase64, decodeInput } from '../../src/protocol/validate.js';
import { parseQuotas, QuotaLimiter, quotaClassFor } from '../../src/quota/index.js';

function nsPerCall(run: (n: number) => void): number {
  run(100_000); // warm up: caches filled, code optimised
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const n = 200_000;
    const start = process.hrtime.bigint();
    run(n);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
  }
  return best;
}

const filter = process.argv[2] ?? '';
// Takes the measurement as a thunk so a filtered-out line costs nothing.
const report = (name: string, measure: () => number) => {
  if (!name.toLowerCase().includes(filter.toLowerCase())) return;
  const ns = measure();
  console.log(`${name.padEnd(46)} ${ns < 10_000 ? `${ns.toFixed(0)} ns` : `${(ns / 1000).toFixed(1)} us`}`);
};

const metrics = createMetrics();
const operations = ['Encrypt', 'Decrypt', 'Sign', 'GenerateDataKey'];
const specs = ['SYMMETRIC_DEFAULT', 'ECC_NIST_P256'];
report('metrics.observeRequest', () => nsPerCall((n) => {
  for (let i = 0; i < n; i++) metrics.observeRequest(operations[i & 3]!, specs[i & 1]!, 'ok', 0.0001 * (i & 15));
}));

const limiter = new QuotaLimiter(parseQuotas('aws', 'us-east-1'));
const accounts = ['111122223333', '444455556666'];
const classes = [quotaClassFor('Encrypt', 'symmetric')[0]!, quotaClassFor('Sign', 'ecc')[0]!, quotaClassFor('DescribeKey')[0]!];
report('QuotaLimiter.take', () => nsPerCall((n) => { for (let i = 0; i < n; i++) limiter.take(accounts[i & 1]!, classes[i % 3]!); }));

const body = Buffer.from(JSON.stringify({ KeyId: 'a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01', Plaintext: Buffer.alloc(1024, 7).toString('base64') }));
const secret = 'bench-secret-access-key';
const headers = signKmsRequest({ host: '127.0.0.1:8080', target: 'TrentService.Encrypt', body, accessKeyId: 'AKIABENCH', secretAccessKey: secret, region: 'us-east-1' });
const principal = { arn: 'arn:aws:iam::111122223333:root', secretAccessKey: secret } as Principal;
const request = { method: 'POST', path: '/', header: (name: string) => headers[name], body };
report('authenticate (SigV4, 1 KiB Encrypt)', () => nsPerCall((n) => { for (let i = 0; i < n; i++) authenticate(request, () => principal); }));
report('  sigv4 parseAuthorization', () => nsPerCall((n) => { for (let i = 0; i < n; i++) parseAuthorization(headers.authorization!); }));
const parsed = parseAuthorization(headers.authorization!)!;
report('  sigv4 sha256Hex (1 KiB body)', () => nsPerCall((n) => { for (let i = 0; i < n; i++) sha256Hex(body); }));
const payloadHash = sha256Hex(body);
report('  sigv4 canonicalRequest', () => nsPerCall((n) => {
  for (let i = 0; i < n; i++) canonicalRequest('POST', '/', request.header, parsed.signedHeaders, payloadHash);
}));
const canonical = canonicalRequest('POST', '/', request.header, parsed.signedHeaders, payloadHash);
report('  sigv4 computeSignature (cached key)', () => nsPerCall((n) => {
  for (let i = 0; i < n; i++) computeSignature(secret, headers['x-amz-date']!, parsed.date, parsed.region, parsed.service, canonical);
}));

const wireInput = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
report('decodeInput (Encrypt, 1 KiB)', () => nsPerCall((n) => { for (let i = 0; i < n; i++) decodeInput('Encrypt', wireInput); }));
const contextInput = { KeyId: 'alias/app', EncryptionContext: { tenant: 'a', purpose: 'bench' }, NumberOfBytes: 32, GrantTokens: ['dG9rZW4='] };
report('  decodeInput (GenerateDataKey, no blob)', () => nsPerCall((n) => {
  for (let i = 0; i < n; i++) decodeInput('GenerateDataKey', contextInput);
}));
const plaintext = wireInput.Plaintext as string;
report('  decodeBase64 (1 KiB)', () => nsPerCall((n) => { for (let i = 0; i < n; i++) decodeBase64(plaintext); }));

const call = {
  operation: 'Encrypt', requestId: 'a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01', eventTime: new Date(),
  principal: { arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', accessKeyId: 'AKIABENCH', type: 'Root' },
  sourceIPAddress: '127.0.0.1', userAgent: 'aws-sdk-js/3', region: 'us-east-1',
  request: { KeyId: 'a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01', Plaintext: Buffer.alloc(1024), EncryptionContext: { tenant: 'a' } },
  response: { KeyId: 'arn:aws:kms:us-east-1:111122223333:key/a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01', EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  keyArns: ['arn:aws:kms:us-east-1:111122223333:key/a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01'], readOnly: true,
};
report('buildAuditRecord', () => nsPerCall((n) => { for (let i = 0; i < n; i++) buildAuditRecord(call); }));
report('  audit requestElements (Encrypt)', () => nsPerCall((n) => { for (let i = 0; i < n; i++) requestElements('Encrypt', call.request); }));
report('  audit cloudTrailEventTime', () => nsPerCall((n) => { for (let i = 0; i < n; i++) cloudTrailEventTime(call.eventTime); }));
// A new second every call: the worst case of the per-second memo (one call in a second's worth of calls).
const seconds = Array.from({ length: 1024 }, (_, i) => new Date(call.eventTime.getTime() + i * 1000));
report('  audit cloudTrailEventTime (new second)', () => nsPerCall((n) => {
  for (let i = 0; i < n; i++) cloudTrailEventTime(seconds[i & 1023]!);
}));
report('  audit arnAccount', () => nsPerCall((n) => { for (let i = 0; i < n; i++) arnAccount(call.keyArns[0]!); }));
const record = buildAuditRecord(call);
let prev = '0'.repeat(64);
// As the log does: a batch of 64 lines assembled in one reused buffer (a turn batch at 64 connections).
const lines = new LineBuffer();
const appendBatches = (item: object) => (n: number) => {
  for (let i = 0; i < n; i++) {
    if ((i & 63) === 0) lines.length = 0;
    prev = appendChainedLine(lines, item, i + 1, prev, undefined).hash;
  }
};
report('audit appendChainedLine (serialize + SHA-256)', () => nsPerCall(appendBatches(record)));
const untrusted = { ...record }; // a copy: not vouched for by its builder, so it takes canonicalJson
report('  audit appendChainedLine (copy: canonicalJson)', () => nsPerCall(appendBatches(untrusted)));
report('  audit canonicalJson (generic, same record)', () => nsPerCall((n) => { for (let i = 0; i < n; i++) canonicalJson(record); }));
