// `kms-engine audit verify FILE` as an operator runs it, on logs a real server wrote (one process, and each front
// end's own file with KMS_FRONTENDS=2) and on damaged copies: one line and exit 0 when intact; one line naming the
// first broken line and exit 1 for a torn last line, an edited or deleted record, two logs concatenated, records
// cut off the end; exit 2 and one line naming the file it could not read (the log, or its checkpoint `.head`).
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFiles, freshConnectionClient } from '../frontends/support.js';
import { runCli, type CliRun } from '../support/cli.js';
import { startServer } from '../support/server.js';

const work = mkdtempSync(join(tmpdir(), 'kms-verify-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const verify = (file: string): CliRun => runCli(['audit', 'verify', file], {}, { cwd: work });

/** The data directory of a server after a few calls: its audit log(s) with their checkpoints. */
async function serverLogs(env: Record<string, string> = {}): Promise<string> {
  const server = await startServer({ dataDir: mkdtempSync(join(work, 'data-')), env });
  // A connection per request: with KMS_FRONTENDS the calls spread over the front ends, so each file gets records.
  const client = freshConnectionClient(server);
  try {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
    for (let i = 0; i < 5; i++) await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from(`call ${i}`) }));
  } finally {
    client.destroy();
    await server.stop();
  }
  return server.dataDir;
}

let log: string;
let lines: string[];

/** A copy of the server's log (and checkpoint) under `name`, with its lines replaced by `edit`'s. */
function damaged(name: string, edit: (lines: string[]) => string, keepCheckpoint = true): string {
  const path = join(work, name);
  writeFileSync(path, edit([...lines]));
  if (keepCheckpoint) copyFileSync(`${log}.head`, `${path}.head`);
  return path;
}
const joined = (some: string[]): string => some.map((line) => `${line}\n`).join('');

function expectVerdict(run: CliRun, status: number, line: RegExp): void {
  expect(run.status, run.output).toBe(status);
  expect(run.lines, run.output).toEqual([expect.stringMatching(line)]);
}

beforeAll(async () => {
  log = join(await serverLogs(), 'audit.jsonl');
  lines = readFileSync(log, 'utf8').split('\n').slice(0, -1);
  expect(lines.length).toBeGreaterThanOrEqual(6);
});

describe('audit verify on a server\'s log', () => {
  it('intact: exit 0, one line with the record count and the checkpoint', () => {
    expectVerdict(verify(log), 0, new RegExp(`^OK ${log}: ${lines.length} records intact \\(checkpoint matched\\)$`));
  });

  it('a torn last line (a crash mid-write): exit 1 naming the line after the intact ones', () => {
    const path = damaged('torn.jsonl', (all) => `${joined(all)}${all[0]!.slice(0, 40)}`);
    expectVerdict(verify(path), 1, new RegExp(`^BROKEN ${path}: line ${lines.length + 1}: the last line is incomplete .*; ${lines.length} records before it are intact$`));
  });

  it('a record edited in the middle: exit 1 naming its line and eventID', () => {
    const path = damaged('edited.jsonl', (all) => {
      all[3] = all[3]!.replace('"sourceIPAddress":"127.0.0.1"', '"sourceIPAddress":"203.0.113.7"');
      expect(all[3]).not.toBe(lines[3]);
      return joined(all);
    });
    const { eventID } = JSON.parse(lines[3]!) as { eventID: string };
    expectVerdict(verify(path), 1, new RegExp(`^BROKEN ${path}: line 4 \\(eventID ${eventID}\\): .*edited; 3 records before it are intact$`));
  });

  it('a member named twice (another caller ahead of the real one, which JSON.parse keeps): exit 1 naming its line', () => {
    // Readers that keep a name's first value (and every grep) see bob calling ListKeys; the hash covers what
    // JSON.parse keeps, the record as written, so only the repeated name shows the edit.
    const forged = ',"eventName":"ListKeys","userIdentity":{"arn":"arn:aws:iam::111122223333:user/bob","type":"IAMUser"}';
    const path = damaged('repeated.jsonl', (all) => {
      all[3] = all[3]!.replace(',"awsRegion":', `${forged},"awsRegion":`);
      expect(all[3]).not.toBe(lines[3]);
      return joined(all);
    });
    const { eventID } = JSON.parse(lines[3]!) as { eventID: string };
    expectVerdict(verify(path), 1, new RegExp(`^BROKEN ${path}: line 4 \\(eventID ${eventID}\\): the line names member "eventName" twice in one object: it was edited .*; 3 records before it are intact$`));
  });

  it('lines a tool re-serialized (members reordered, characters escaped, spaces added): intact, saying which differ', () => {
    const path = damaged('reserialized.jsonl', (all) => joined(all.map((line) => {
      const { chain, ...record } = JSON.parse(line) as Record<string, unknown>;
      return JSON.stringify({ ...record, chain }, null, 1).replace(/\n/g, '').replaceAll('kms.amazonaws.com', '\\u006bms.amazonaws.com');
    })));
    expect(readFileSync(path, 'utf8')).not.toBe(joined(lines));
    expectVerdict(verify(path), 0, new RegExp(`^OK ${path}: ${lines.length} records intact \\(checkpoint matched\\); `
      + `${lines.length} line\\(s\\) not as the engine wrote them, first line 1: their content is intact, but a text search of the file may miss what they hold$`));
    // Escapes hide text from grep without changing a value: the one line rewritten so is the one named.
    const one = damaged('escaped.jsonl', (all) => {
      all[2] = all[2]!.replace('"eventSource":"kms.amazonaws.com"', '"eventSource":"\\u006bms.amazonaws.com"');
      return joined(all);
    });
    expectVerdict(verify(one), 0, /records intact \(checkpoint matched\); 1 line\(s\) not as the engine wrote them, first line 3: /);
  });

  it('a record deleted: exit 1 at the line that follows the gap', () => {
    const path = damaged('deleted.jsonl', (all) => joined(all.filter((_, index) => index !== 2)));
    expectVerdict(verify(path), 1, /: line 3 \(eventID [0-9a-f-]+\): record seq 4 where 3 was expected: 1 record\(s\) before it were removed/);
  });

  it('records cut off the end: exit 1 through the checkpoint; without one, intact but saying what it cannot see', () => {
    const path = damaged('cut.jsonl', (all) => joined(all.slice(0, -2)));
    expectVerdict(verify(path), 1, new RegExp(`: line ${lines.length - 1}: the log ends at record ${lines.length - 2} but its checkpoint records ${lines.length}`));
    const bare = damaged('cut-bare.jsonl', (all) => joined(all.slice(0, -2)), false);
    expectVerdict(verify(bare), 0, /records intact \(no checkpoint file, so removal of the newest records cannot be detected\)$/);
  });

  it('two logs concatenated: exit 1 at the first line of the second', () => {
    const path = damaged('concatenated.jsonl', (all) => joined([...all, ...all]), false);
    expectVerdict(verify(path), 1, new RegExp(`: line ${lines.length + 1} \\(eventID [0-9a-f-]+\\): record seq 1 where ${lines.length + 1} was expected`));
  });

  it('a log or checkpoint it cannot read: exit 2 naming that file', () => {
    expectVerdict(verify(join(work, 'missing.jsonl')), 2, /^kms-engine audit verify: cannot read .*missing\.jsonl: ENOENT$/);
    expectVerdict(verify(work), 2, /^kms-engine audit verify: cannot read .*: EISDIR$/);
    const path = damaged('checkpoint-dir.jsonl', joined, false);
    mkdirSync(`${path}.head`);
    expectVerdict(verify(path), 2, /^kms-engine audit verify: cannot read .*checkpoint-dir\.jsonl\.head: EISDIR$/);
  });

  it('an empty file: intact, 0 records', () => {
    const path = damaged('empty.jsonl', () => '', false);
    expectVerdict(verify(path), 0, /^OK .*: 0 records intact/);
  });
});

describe('audit verify on each front end\'s log (KMS_FRONTENDS=2)', () => {
  it('every file verifies against its own checkpoint', async () => {
    const files = auditFiles(await serverLogs({ KMS_FRONTENDS: '2' }));
    expect([...files.keys()].sort()).toEqual([1, 2]);
    for (const file of files.values()) expectVerdict(verify(file), 0, /records intact \(checkpoint matched\)$/);
  });
});
