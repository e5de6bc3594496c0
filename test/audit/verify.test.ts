import { readFile, rm, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, readLink, recomputeHash, type ChainLink } from '../../src/audit/chain.js';
import { checkpointPath } from '../../src/audit/checkpoint.js';
import { AuditLog } from '../../src/audit/log.js';
import { repeatedMember, runAuditVerifyCommand, verifyAuditLog } from '../../src/audit/verify.js';
import { sampleRecord, tempLogPath } from './helpers.js';

/** A log of `count` records; returns its path and its lines (without newlines). */
async function writeLog(count: number): Promise<{ path: string; lines: string[] }> {
  const path = await tempLogPath();
  const log = await AuditLog.open(path);
  await Promise.all(Array.from({ length: count }, (_, i) => log.append(sampleRecord(i + 1))));
  await log.close();
  const lines = (await readFile(path, 'utf8')).split('\n').slice(0, -1);
  return { path, lines };
}

const save = (path: string, lines: string[]): Promise<void> => writeFile(path, lines.map((line) => `${line}\n`).join(''));
const eventIdOf = (line: string): string => JSON.parse(line).eventID as string;

describe('verifyAuditLog', () => {
  it('accepts an intact log and an empty one', async () => {
    const { path } = await writeLog(6);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, records: 6, checkpoint: 'matched' });
    const empty = await tempLogPath();
    await writeFile(empty, '');
    expect(await verifyAuditLog(empty)).toEqual({ ok: true, records: 0, checkpoint: 'absent' });
  });

  it('names an edited record', async () => {
    const { path, lines } = await writeLog(6);
    lines[2] = lines[2]!.replace('"readOnly":true', '"readOnly":false');
    await save(path, lines);
    expect(await verifyAuditLog(path)).toEqual({
      ok: false, records: 2, line: 3, eventID: eventIdOf(lines[2]!), reason: expect.stringMatching(/edited/),
    });
  });

  it('names the record after one edited with a recomputed hash', async () => {
    const { path, lines } = await writeLog(6);
    const edited = JSON.parse(lines[2]!);
    edited.sourceIPAddress = '203.0.113.9';
    edited.chain.hash = recomputeHash(edited, readLink(edited) as ChainLink);
    lines[2] = JSON.stringify(edited);
    await save(path, lines);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, records: 3, line: 4, reason: expect.stringMatching(/previous record/) });
  });

  it('names an inserted record', async () => {
    const { path, lines } = await writeLog(6);
    const forged = JSON.parse(lines[2]!);
    forged.eventID = '00000000-0000-4000-8000-000000000000';
    lines.splice(3, 0, JSON.stringify(forged));
    await save(path, lines);
    expect(await verifyAuditLog(path)).toEqual({
      ok: false, records: 3, line: 4, eventID: '00000000-0000-4000-8000-000000000000', reason: expect.stringMatching(/inserted/),
    });
  });

  it('names the record after a deleted one', async () => {
    const { path, lines } = await writeLog(6);
    lines.splice(2, 1);
    await save(path, lines);
    expect(await verifyAuditLog(path)).toMatchObject({
      ok: false, records: 2, line: 3, eventID: eventIdOf(lines[2]!), reason: expect.stringMatching(/1 record\(s\) before it were removed/),
    });
  });

  it('names the first of two reordered records', async () => {
    const { path, lines } = await writeLog(6);
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    await save(path, lines);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, records: 1, line: 2, eventID: eventIdOf(lines[1]!) });
  });

  it('detects records removed from the start', async () => {
    const { path, lines } = await writeLog(4);
    await save(path, lines.slice(1));
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, records: 0, line: 1, reason: expect.stringMatching(/seq 2 where 1/) });
  });

  it('detects records removed from the end through the checkpoint, and only through it', async () => {
    const { path, lines } = await writeLog(6);
    await save(path, lines.slice(0, 4));
    expect(await verifyAuditLog(path)).toMatchObject({
      ok: false, records: 4, line: 5, reason: expect.stringMatching(/ends at record 4 but its checkpoint records 6/),
    });
    await rm(checkpointPath(path));
    expect(await verifyAuditLog(path)).toEqual({ ok: true, records: 4, checkpoint: 'absent' });
  });

  it('detects a replaced newest record the checkpoint names', async () => {
    const { path, lines } = await writeLog(3);
    const other = await writeLog(3);
    await save(path, [...lines.slice(0, 2), other.lines[2]!]);
    // The replacement is from another chain, so its prev already disagrees.
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, line: 3 });
  });

  it('reports a torn last line and a line that is not JSON', async () => {
    const { path, lines } = await writeLog(3);
    await writeFile(path, `${lines.join('\n')}\n{"eventVersion":`);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, records: 3, line: 4, reason: expect.stringMatching(/torn/) });
    await writeFile(path, `${lines[0]}\nnot json\n`);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, records: 1, line: 2, reason: expect.stringMatching(/not valid JSON/) });
  });

  it('reads lines that span the 256 KiB reads: a long log, a long torn line, a long line that is not JSON', async () => {
    // ~1 KB records: 700 of them cross two read boundaries, each splitting a record.
    const { path, lines } = await writeLog(700);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, records: 700, checkpoint: 'matched' });
    const long = 'x'.repeat(600 * 1024); // three reads with no newline
    await writeFile(path, `${lines.slice(0, 2).join('\n')}\n${long}`);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, records: 2, line: 3, reason: expect.stringMatching(/torn/) });
    await writeFile(path, `${lines[0]}\n${long}\n${lines[1]}\n`);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, records: 1, line: 2, reason: expect.stringMatching(/not valid JSON/) });
  });

  it('throws when the log cannot be read', async () => {
    await expect(verifyAuditLog(`${await tempLogPath()}.missing`)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('runAuditVerifyCommand', () => {
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, output: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) } };
  };

  it('exits 0 with a one-line verdict on an intact log', async () => {
    const { path } = await writeLog(3);
    const io = capture();
    expect(await runAuditVerifyCommand([path], io.output)).toBe(0);
    expect(io.out).toEqual([`OK ${path}: 3 records intact (checkpoint matched)`]);
  });

  it('exits 1 naming the first broken record', async () => {
    const { path, lines } = await writeLog(3);
    lines[1] = lines[1]!.replace('request-2', 'request-9');
    await save(path, lines);
    const io = capture();
    expect(await runAuditVerifyCommand([path], io.output)).toBe(1);
    expect(io.out).toHaveLength(1);
    expect(io.out[0]).toContain(`line 2 (eventID ${eventIdOf(lines[1]!)})`);
  });

  it('exits 2 on usage errors and unreadable files', async () => {
    const io = capture();
    expect(await runAuditVerifyCommand([], io.output)).toBe(2);
    expect(await runAuditVerifyCommand(['a', 'b'], io.output)).toBe(2);
    expect(await runAuditVerifyCommand([`${await tempLogPath()}.missing`], io.output)).toBe(2);
    expect(io.err).toHaveLength(3);
    expect(io.err[2]).toContain('ENOENT');
  });
});

describe('repeatedMember', () => {
  it('finds no repeated name in JSON any serializer writes, whatever its strings hold', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      expect(repeatedMember(JSON.stringify(value))).toBeUndefined();
      expect(repeatedMember(JSON.stringify(value, null, 2))).toBeUndefined();
    }), { numRuns: 500 });
    // Names in other objects, and names inside strings, are not repeats.
    expect(repeatedMember('{"a":{"a":1},"b":[{"a":2},{"a":3}],"c":"\\"a\\":","d":"\\\\"}')).toBeUndefined();
  });

  it('finds a name given twice in one object, compared decoded, at any depth', () => {
    expect(repeatedMember('{"a":1,"b":2,"a":3}')).toBe('a');
    expect(repeatedMember('{"arn":1,"\\u0061rn":2}')).toBe('arn');
    expect(repeatedMember('{"x":[{"k":"v"},{"k":"v","s":"\\"","k":"w"}]}')).toBe('k');
    expect(repeatedMember('{"o":{"p":{"q":1, "q" :2}}}')).toBe('q');
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('is unchanged by a JSON round trip, so a re-serialized line still verifies', () => {
    fc.assert(fc.property(fc.anything({ withDate: true, withNullPrototype: true }), (value) => {
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch {
        return; // BigInt and the like: not JSON, rejected by both
      }
      if (json === undefined) return;
      expect(canonicalJson(JSON.parse(json))).toBe(canonicalJson(value));
    }), { numRuns: 500 });
  });
});

describe('chainLine', () => {
  it('writes each line as canonical JSON, chain first, that verifies after any re-serialization', async () => {
    const { path, lines } = await writeLog(2);
    const parsed = JSON.parse(lines[1]!);
    expect(lines[1]).toBe(`{"chain":${canonicalJson(parsed.chain)},${canonicalJson({ ...parsed, chain: undefined }).slice(1)}`);
    // Pretty-printing and reordering keys changes bytes, not content: still one valid chain.
    const reserialized = lines.map((line) => {
      const { chain, ...rest } = JSON.parse(line);
      return JSON.stringify({ ...rest, chain });
    });
    await save(path, reserialized);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 2 });
  });
});
