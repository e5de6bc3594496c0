// Property-based hostile input for every operation in the service model: inputs derived from each operation's
// input shape (kms-model.json), with values that fit, values just outside their constraints, wrong JSON types,
// huge and negative numbers, missing required members, unknown members, and real key ids and ciphertexts mixed
// in so inputs also get past validation. Whatever comes in: never a 5xx, always JSON, every error exactly
// {"__type","message"} with a 4xx, no input quoted back, and the server's memory stays flat.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_MODEL, type ModelShape } from '../../src/protocol/validate.js';
import type { TestServer } from '../support/server.js';
import {
  checkResponse, MARKER, residentBytes, startFuzzedServer, stopFuzzedServer, Tally, type FuzzedServer, type Targets,
} from './fuzz-support.js';
import { post } from './raw-client.js';

/** Inputs per operation: 54 operations x 50 is about 2,700 requests, near 10 s on two cores. */
const RUNS_PER_OPERATION = 50;
// CI replays one known seed (a red CI must mean a regression); elsewhere each run explores a new one.
const SEED = Number(process.env.KMS_FUZZ_SEED ?? (process.env.CI ? 20261201 : Date.now() % 1_000_000));
/** Generous: the server's RSS may grow (caches, JIT, allocator) but not by the volume it was sent. */
const RSS_GROWTH_BOUND = 150 * 1024 * 1024;

const model = SERVICE_MODEL;

let fuzzed: FuzzedServer | undefined;
let server: TestServer;
let targets: Targets;
let rssBefore: number;
const tally = new Tally();

beforeAll(async () => {
  fuzzed = await startFuzzedServer();
  ({ server, targets, rssBefore } = fuzzed);
});
afterAll(() => stopFuzzedServer(fuzzed, tally, `fuzz-model (seed ${SEED})`));

const marked = fc.string({ maxLength: 12 }).map((text) => `${MARKER}${text}`);

/** Any JSON value, including the wrong type for wherever it lands, and the numbers parsers trip on. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null), fc.boolean(), marked, fc.constantFrom(-1, 0, 1.5, -0.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308),
  fc.array(marked, { maxLength: 3 }), fc.dictionary(marked, marked, { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 4 }),
);

function realIdentifiers(): string[] {
  return [targets.keyId, targets.keyArn, targets.aliasName, targets.rsaKeyId, targets.eccKeyId, targets.hmacKeyId,
    `alias/${MARKER}`, '11111111-2222-4333-8444-555555555555'];
}

function flipBit(bytes: Buffer, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[Math.floor(bit / 8) % copy.length]! ^= 1 << (bit % 8);
  return copy;
}

function stringArbitrary(shape: ModelShape): fc.Arbitrary<string> {
  const max = shape.max ?? 2048;
  const choices: fc.Arbitrary<string>[] = [
    marked,
    fc.constantFrom(...realIdentifiers()),
    fc.string({ minLength: 0, maxLength: 40 }),
    fc.constantFrom('', `${MARKER}${'x'.repeat(max)}`, `${MARKER}\u0000\u{1F600}\uD800`), // empty, one over max, odd code points
  ];
  if (shape.enum !== undefined) choices.push(fc.constantFrom(...shape.enum), fc.constantFrom(...shape.enum));
  return fc.oneof(...choices);
}

function blobArbitrary(shape: ModelShape): fc.Arbitrary<string> {
  const max = shape.max ?? 4096;
  const real = [targets.ciphertext, targets.signature, targets.mac];
  return fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64')),
    fc.tuple(fc.constantFrom(...real), fc.nat()).map(([bytes, bit]) => flipBit(bytes, bit).toString('base64')),
    fc.tuple(fc.constantFrom(...real), fc.nat()).map(([bytes, cut]) => bytes.subarray(0, cut % bytes.length).toString('base64')),
    fc.constantFrom(...real).map((bytes) => bytes.toString('base64')),
    fc.constantFrom(`${MARKER}==`, `${MARKER}!`, 'AAA', '====', 'A===', Buffer.alloc(max + 1).toString('base64'), ''),
  );
}

function valueArbitrary(shapeName: string, depth: number): fc.Arbitrary<unknown> {
  const shape = model.shapes[shapeName]!;
  let fitting: fc.Arbitrary<unknown>;
  switch (shape.type) {
    case 'structure': fitting = structureArbitrary(shape, depth); break;
    case 'string': fitting = stringArbitrary(shape); break;
    case 'blob': fitting = blobArbitrary(shape); break;
    case 'boolean': fitting = fc.boolean(); break;
    case 'integer': case 'long':
      fitting = fc.oneof(fc.integer({ min: (shape.min ?? 0) - 2, max: (shape.max ?? 1000) + 2 }), fc.integer(), fc.double());
      break;
    case 'timestamp': fitting = fc.oneof(fc.integer(), fc.double(), marked); break;
    case 'list': fitting = fc.array(valueArbitrary(shape.member!.shape, depth + 1), { maxLength: depth > 2 ? 2 : 6 }); break;
    case 'map':
      fitting = fc.dictionary(stringArbitrary(model.shapes[shape.key!.shape]!), valueArbitrary(shape.value!.shape, depth + 1), { maxKeys: 5 });
      break;
    default: fitting = wrongType;
  }
  return fc.oneof({ weight: 6, arbitrary: fitting }, { weight: 1, arbitrary: wrongType });
}

function structureArbitrary(shape: ModelShape, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const members = Object.fromEntries(Object.entries(shape.members ?? {}).map(([name, member]) => [name, valueArbitrary(member.shape, depth + 1)]));
  // Every member optional: required ones go missing too. Sometimes an unknown member rides along.
  return fc.tuple(fc.record(members, { requiredKeys: [] }), fc.option(fc.tuple(marked, wrongType), { freq: 4 })).map(([record, extra]) =>
    (extra === null ? record : { ...record, [extra[0]]: extra[1] }));
}

function inputArbitrary(operation: string): fc.Arbitrary<unknown> {
  const inputShape = model.operations[operation]!.input;
  const structure = inputShape === undefined ? fc.constant({}) : structureArbitrary(model.shapes[inputShape]!, 0);
  // Now and then the whole body is not an object at all.
  return fc.oneof({ weight: 9, arbitrary: structure }, { weight: 1, arbitrary: wrongType });
}

describe(`every operation's input, fuzzed from the model (seed ${SEED})`, () => {
  it.each(Object.keys(model.operations))('%s', async (operation) => {
    await fc.assert(fc.asyncProperty(inputArbitrary(operation), async (input) => {
      const body = JSON.stringify(input) ?? 'null';
      const response = await post(server, operation, body);
      checkResponse(response, tally, `${operation} ${body.slice(0, 200)}`);
    }), { numRuns: RUNS_PER_OPERATION, seed: SEED, endOnFailure: true });
  });

  it('leaves the server serving, with no 5xx and flat memory', async () => {
    expect(tally.serverErrors).toEqual([]);
    const response = await post(server, 'ListKeys', '{}');
    expect(response.status).toBe(200);
    expect(residentBytes(server.process.pid!) - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);
  });
});
