// KMS_FRONTENDS=2: `kms-engine serve` as a primary with two front-end processes on one port and one SQLite
// store. New connections go to the children in turn, so back-to-back calls on fresh connections cross from one
// front end to the other: a change answered by one must already hold on the other (no stale cache, no window),
// both serve and audit (one hash chain each, each verifying), /metrics counts both, credentials are printed
// once, a killed child is replaced, and SIGTERM stops everything with exit 0.
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand,
  DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand, GenerateRandomCommand, GetKeyLastUsageCommand, ListResourceTagsCommand,
  ListAliasesCommand, RevokeGrantCommand, ScheduleKeyDeletionCommand, TagResourceCommand, UpdateAliasCommand, UpdateKeyDescriptionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import {
  answeredBy, auditFiles, auditLineCounts, chainNodes, childPids, createAliasFlood, freshConnectionClient, isAlive, metricSum, outcome, sleep,
  verifyAudit,
} from './support.js';

const APP = { accessKeyId: 'AKIAFRONTENDAPP00001', secretAccessKey: 'frontend-app-secret-0001-abcdefghijklmno' };
const APP_ARN = 'arn:aws:iam::111122223333:user/frontend-app';
const plaintext = Buffer.from('served by whichever front end');
const LOOPS = 25;

const work = mkdtempSync(join(tmpdir(), 'kms-frontends-'));
let server: TestServer;
let client: KMSClient;
let app: KMSClient;

beforeAll(async () => {
  const identities = join(work, 'identities.json');
  writeFileSync(identities, JSON.stringify({ identities: [{ ...APP, arn: APP_ARN, policies: [] }] }));
  server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_WORKERS: '2', KMS_IDENTITIES: identities } });
  client = freshConnectionClient(server);
  app = freshConnectionClient(server, APP);
});

afterAll(async () => {
  await server?.remove();
  rmSync(work, { recursive: true, force: true });
});

const requestIdOf = async (call: Promise<{ $metadata: { requestId?: string } }>): Promise<string> => (await call).$metadata.requestId!;

/** Front ends that answered these request ids; every id must be found in some front end's audit file. */
async function frontEndsOf(requestIds: string[]): Promise<Set<number>> {
  const answered = await answeredBy(server.dataDir, requestIds);
  expect(answered.size).toBe(requestIds.length);
  return new Set(answered.values());
}

/** Asserts that both front ends audited (so answered) requests since `before` was taken. */
async function expectBothAnsweredSince(before: Map<number, number>): Promise<void> {
  await sleep(300); // audit batches land within milliseconds; the checkpoint is not needed
  const after = auditLineCounts(server.dataDir);
  for (const index of [1, 2]) expect(after.get(index) ?? 0).toBeGreaterThan(before.get(index) ?? 0);
}

async function newKey(): Promise<string> {
  return (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
}

/** Encrypts on a few fresh connections so that both front ends have the key (and its material) cached. */
async function warm(keyId: string, with_: KMSClient = client): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await requestIdOf(with_.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))));
  expect(await frontEndsOf(ids)).toEqual(new Set([1, 2]));
}

describe('KMS_FRONTENDS=2 on one SQLite store', () => {
  it('starts two front-end processes, prints the credentials and the listening line once', () => {
    expect(childPids(server.process.pid!)).toHaveLength(2);
    const output = server.output();
    expect(output.match(/AWS_SECRET_ACCESS_KEY=/g)).toHaveLength(1);
    expect(output.match(/kms-engine listening on /g)).toHaveLength(1);
    expect(output).toContain('kms-engine: 2 front ends, 1 crypto worker each');
  });

  it('answers requests on many connections from both front ends, each auditing to its own file', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => requestIdOf(client.send(new GenerateRandomCommand({ NumberOfBytes: 16 })))));
    const answered = await answeredBy(server.dataDir, ids);
    const perFrontEnd = [1, 2].map((index) => [...answered.values()].filter((each) => each === index).length);
    expect(perFrontEnd[0]! + perFrontEnd[1]!).toBe(40);
    expect(perFrontEnd[0]).toBeGreaterThan(5);
    expect(perFrontEnd[1]).toBeGreaterThan(5);
    expect([...auditFiles(server.dataDir).keys()].sort()).toEqual([1, 2]);
  });

  it('serves a key created on one front end from the other at once', async () => {
    for (let i = 0; i < LOOPS; i++) {
      const created = await client.send(new CreateKeyCommand({}));
      const encrypted = await client.send(new EncryptCommand({ KeyId: created.KeyMetadata!.KeyId!, Plaintext: plaintext }));
      const decrypted = await client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
      expect(Buffer.from(decrypted.Plaintext!)).toEqual(plaintext);
      const frontEnds = await frontEndsOf([created.$metadata.requestId!, encrypted.$metadata.requestId!]);
      expect(frontEnds.size).toBe(2); // created on one, used on the other
    }
  });

  it('refuses Encrypt on the other front end right after DisableKey, and serves it right after EnableKey', async () => {
    const keyId = await newKey();
    await warm(keyId);
    const crossed = new Set<string>();
    for (let i = 0; i < LOOPS; i++) {
      const disabled = await client.send(new DisableKeyCommand({ KeyId: keyId }));
      let refused: { name?: string; $metadata?: { requestId?: string } } | undefined;
      try {
        await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
      } catch (error) {
        refused = error as typeof refused;
      }
      expect(refused?.name).toBe('DisabledException');
      const enabled = await client.send(new EnableKeyCommand({ KeyId: keyId }));
      const served = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
      crossed.add(`${disabled.$metadata.requestId}>${refused!.$metadata!.requestId}`);
      crossed.add(`${enabled.$metadata.requestId}>${served.$metadata.requestId}`);
    }
    // The change and the call after it were answered by different front ends (not both by one).
    const pairs = [...crossed].map((pair) => pair.split('>') as [string, string]);
    const answered = await answeredBy(server.dataDir, pairs.flat());
    const across = pairs.filter(([change, call]) => answered.get(change) !== answered.get(call));
    expect(across.length).toBeGreaterThanOrEqual(pairs.length / 2);
  });

  it('refuses Encrypt on the other front end right after ScheduleKeyDeletion, and serves it after CancelKeyDeletion', async () => {
    const keyId = await newKey();
    await warm(keyId);
    for (let i = 0; i < LOOPS; i++) {
      await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
      expect(await outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('KMSInvalidStateException');
      await client.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
      await client.send(new EnableKeyCommand({ KeyId: keyId })); // a cancelled deletion leaves the key Disabled
      expect(await outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('ok');
    }
  });

  it('resolves an alias on the other front end right after CreateAlias, UpdateAlias and DeleteAlias', async () => {
    const before = auditLineCounts(server.dataDir);
    const first = await newKey();
    const second = await newKey();
    for (let i = 0; i < LOOPS; i++) {
      const alias = `alias/frontends/${i}`;
      // Both front ends have looked the alias up and cached that it does not exist.
      for (let j = 0; j < 2; j++) expect(await outcome(client.send(new DescribeKeyCommand({ KeyId: alias })))).toBe('NotFoundException');
      await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: first }));
      expect((await client.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(first);
      expect((await client.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(first);
      await client.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: second }));
      expect((await client.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(second);
      expect((await client.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata!.KeyId).toBe(second);
      await client.send(new DeleteAliasCommand({ AliasName: alias }));
      expect(await outcome(client.send(new DescribeKeyCommand({ KeyId: alias })))).toBe('NotFoundException');
      expect(await outcome(client.send(new DescribeKeyCommand({ KeyId: alias })))).toBe('NotFoundException');
    }
    await expectBothAnsweredSince(before);
  });

  it('honours a grant on the other front end right after CreateGrant, and its revocation right after RevokeGrant', async () => {
    const before = auditLineCounts(server.dataDir);
    const keyId = await newKey();
    for (let i = 0; i < 10; i++) {
      // Both front ends have cached the key's (empty) grant list.
      for (let j = 0; j < 2; j++) expect(await outcome(app.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('AccessDeniedException');
      const { GrantId } = await client.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: APP_ARN, Operations: ['Encrypt'] }));
      for (let j = 0; j < 2; j++) expect(await outcome(app.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('ok');
      await client.send(new RevokeGrantCommand({ KeyId: keyId, GrantId }));
      for (let j = 0; j < 2; j++) expect(await outcome(app.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('AccessDeniedException');
    }
    await expectBothAnsweredSince(before);
  });

  it('reports a key\'s last use, made on either front end, from both once saved', async () => {
    const keyId = await newKey();
    const uses: string[] = [];
    for (let i = 0; i < 4; i++) {
      uses.push(await requestIdOf(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))));
      await sleep(5); // uses a few milliseconds apart: timestamps order them across front ends
    }
    expect(await frontEndsOf(uses)).toEqual(new Set([1, 2]));
    await sleep(2_500); // saved once a second: a second and a half of slack on a busy machine
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await client.send(new GetKeyLastUsageCommand({ KeyId: keyId })));
    expect(await frontEndsOf(answers.map((answer) => answer.$metadata.requestId!))).toEqual(new Set([1, 2]));
    for (const answer of answers) expect(answer.KeyLastUsage).toMatchObject({ Operation: 'Encrypt', KmsRequestId: uses[3] });
  });

  it('loses no write and fails no call when both front ends change one key at once', async () => {
    // Within a process the keyring serializes a key's changes; across the two, the version check catches the
    // race and the per-key lock makes the keyring's one retry win (without it some calls fail with a 500).
    const before = auditLineCounts(server.dataDir);
    const keyId = await newKey();
    const TAGS = 30;
    for (let round = 0; round < 4; round++) {
      const calls = Array.from({ length: 80 }, (_, i) => i % 2 === 0
        ? client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: `t${(i / 2) % TAGS}`, TagValue: String(round) }] }))
        : client.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: `round ${round}` })));
      const results = await Promise.all(calls.map((call) => outcome(call)));
      expect(results.filter((result) => result !== 'ok')).toEqual([]);
    }
    const { Tags } = await client.send(new ListResourceTagsCommand({ KeyId: keyId }));
    expect(Tags).toHaveLength(TAGS);
    for (const tag of Tags!) expect(tag.TagValue).toBe('3');
    expect((await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.Description).toBe('round 3');
    await expectBothAnsweredSince(before);
  });

  it('holds a key to 50 aliases when both front ends create aliases on it at once', async () => {
    // The alias is written with a new version of its key: the per-key lock and version check that keep the tag
    // limit keep this one too (with the count taken apart from the write, as many as all 60 got through).
    const keyId = await newKey();
    const outcomes = await createAliasFlood(server, keyId);
    expect(outcomes.filter((result) => result === 'ok')).toHaveLength(50);
    expect(outcomes.filter((result) => result !== 'ok')).toEqual(Array(10).fill('LimitExceededException'));
    expect((await client.send(new ListAliasesCommand({ KeyId: keyId, Limit: 100 }))).Aliases).toHaveLength(50);
  });

  it('sums /metrics over both front ends, whichever answers the scrape; /healthz answers on each', async () => {
    const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { connection: 'close' } })).text();
    const labels = { operation: 'GenerateRandom', outcome: 'ok' };
    const before = metricSum(await scrape(), 'kms_request_duration_seconds_count', labels);
    const ids = await Promise.all(Array.from({ length: 30 }, () => requestIdOf(client.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))));
    expect(await frontEndsOf(ids)).toEqual(new Set([1, 2]));
    for (let i = 0; i < 4; i++) { // fresh connections: both front ends answer scrapes
      const text = await scrape();
      expect(metricSum(text, 'kms_request_duration_seconds_count', labels) - before).toBe(30);
      expect(metricSum(text, 'kms_pool_workers')).toBe(2); // one worker in each front end
      const health = await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } });
      expect(health.status).toBe(200);
    }
  });

  it('fails a scrape the primary cannot sum rather than answer one front end\'s share of every counter', async () => {
    // One kept-alive connection to a front end, so the scrape reaches it while the primary (which hands out new
    // connections) is stopped.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const scrape = () => new Promise<{ status: number; text: string }>((resolve, reject) => {
      get(`${server.url}/metrics`, { agent }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => { text += chunk.toString(); });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      }).on('error', reject);
    });
    try {
      const whole = await scrape();
      expect(whole.status).toBe(200);
      process.kill(server.process.pid!, 'SIGSTOP');
      let partial: { status: number; text: string };
      try {
        partial = await scrape(); // waits out the front end's 5 s for the primary
      } finally {
        process.kill(server.process.pid!, 'SIGCONT');
      }
      // Prometheus records a failed scrape (up 0); a fraction of each counter would read as a restart.
      expect(partial.status).toBe(503);
      expect(partial.text).toMatch(/^metrics unavailable: /);
      const again = await scrape();
      expect(again.status).toBe(200);
      const requests = (text: string) => metricSum(text, 'kms_request_duration_seconds_count');
      expect(requests(again.text)).toBeGreaterThanOrEqual(requests(whole.text));
    } finally {
      agent.destroy();
    }
  });

  it('replaces a killed front end and keeps serving, /metrics\' counters going on from where they were', async () => {
    const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { connection: 'close' } })).text();
    const before = await scrape(); // both front ends have answered requests by now
    const [victim, survivor] = childPids(server.process.pid!) as [number, number];
    process.kill(victim, 'SIGKILL');
    for (let i = 0; i < 100 && !/exited with signal SIGKILL; starting a replacement/.test(server.output()); i++) await sleep(50);
    expect(server.output()).toMatch(new RegExp(`front end \\d \\(pid ${victim}\\) exited with signal SIGKILL; starting a replacement`));
    let children: number[] = [];
    for (let i = 0; i < 100; i++) {
      children = childPids(server.process.pid!);
      if (children.length === 2 && !children.includes(victim)) break;
      await sleep(100);
    }
    expect(children).toContain(survivor);
    expect(children).not.toContain(victim);
    // The replacement takes connections again (it listens a moment after it is forked).
    const keyId = await newKey();
    let frontEnds = new Set<number>();
    let encrypts = 0;
    for (let i = 0; i < 50 && frontEnds.size < 2; i++) {
      const ids = await Promise.all(Array.from({ length: 6 }, () => requestIdOf(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))));
      encrypts += ids.length;
      frontEnds = await frontEndsOf(ids);
      if (frontEnds.size < 2) await sleep(100);
    }
    expect(frontEnds).toEqual(new Set([1, 2]));

    // The replacement counts from 0, but the sums must not go back: Prometheus takes any decrease for a restart
    // and the whole new value for the increase, so rate() of every series would jump by the survivor's totals.
    const after = await scrape();
    const series = (text: string) => new Map(text.split('\n').filter((line) => /^(kms_\w+_(total|count|bucket|sum)|process_cpu_seconds_total)[{ ]/.test(line))
      .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]));
    const was = series(before);
    const now = series(after);
    expect(was.size).toBeGreaterThan(20);
    for (const [name, value] of was) expect(now.get(name) ?? 0, name).toBeGreaterThanOrEqual(value);
    // Exactly the calls made since the last scrape are added (the killed front end had answered none of them).
    const requests = (text: string) => metricSum(text, 'kms_request_duration_seconds_count');
    expect(requests(after) - requests(before)).toBe(1 + encrypts);
  });

  it('stops every front end on SIGTERM with exit 0, leaving one verifying hash chain per front end', async () => {
    const children = childPids(server.process.pid!);
    expect(children).toHaveLength(2);
    expect(await server.stop('SIGTERM')).toBe(0);
    for (const pid of children) expect(isAlive(pid)).toBe(false);
    const files = auditFiles(server.dataDir);
    expect([...files.keys()].sort()).toEqual([1, 2]);
    const nodes = new Set<string | undefined>();
    for (const path of files.values()) {
      const verdict = verifyAudit(path);
      expect(verdict.status, verdict.output).toBe(0);
      const fileNodes = chainNodes(path);
      expect(fileNodes.size).toBe(1); // one writer per chain, the killed front end's replacement included
      for (const node of fileNodes) nodes.add(node);
    }
    expect(nodes.size).toBe(2);
    expect(nodes.has(undefined)).toBe(false);
    expect(server.output()).toMatch(/kms-engine: shutting down\n/);
  });
});
