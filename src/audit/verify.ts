// Checks an audit log written by AuditLog (log.ts): every line parses, seqs run 1, 2, 3... without gaps, each
// line's prev is the previous line's hash, each hash matches the line's content, no line names a member twice in
// one object (which readers would read two ways), and the log reaches the record its checkpoint names. Reports the FIRST line that breaks any of these: after a break, every later
// line is suspect too, and the first one is where an investigation starts.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { GENESIS_HASH, readLink, recomputeLink } from './chain.js';
import { usage } from '../cli-usage.js';
import { checkpointPath, parseCheckpoint, type Checkpoint } from './checkpoint.js';

export type AuditVerdict =
  | {
    ok: true;
    records: number;
    /** 'absent' when there is no checkpoint file: records removed from the end could not be detected. */
    checkpoint: 'matched' | 'absent';
    /**
     * Lines whose content verifies but whose text is not what the engine wrote (another tool re-serialized them:
     * other spacing, escapes, member order): a text search of the file may not find what they hold. Absent when none.
     */
    rewritten?: { lines: number; first: number };
  }
  | { ok: false; records: number; line: number; eventID?: string; reason: string };

interface Line { text: string; terminated: boolean }

/**
 * The file's lines, each with whether a newline ended it (only a torn last line is unterminated). The unfinished
 * line's pieces are kept apart until its newline comes: re-splitting it with every chunk made a file of one long
 * line (a log overwritten with something else) quadratic, 25 s for 64 MB.
 */
async function* linesOf(path: string): AsyncGenerator<Line> {
  let carry: string[] = [];
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 })) {
    const parts = (chunk as string).split('\n');
    const last = parts.pop()!;
    if (parts.length > 0) {
      carry.push(parts[0]!);
      yield { text: carry.join(''), terminated: true };
      carry = [];
      for (let i = 1; i < parts.length; i++) yield { text: parts[i]!, terminated: true };
    }
    if (last !== '') carry.push(last);
  }
  const torn = carry.join('');
  if (torn !== '') yield { text: torn, terminated: false };
}

/**
 * The first member name that appears twice in one object of `text` (valid JSON, as JSON.parse has accepted it), or
 * undefined. Names are compared decoded, so "a" and "\u0061" are the same member, as they are to every reader.
 */
export function repeatedMember(text: string): string | undefined {
  // One entry per open object (its names so far) or array (null).
  const open: Array<Set<string> | null> = [];
  let nameNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // '"': skip the string, reading it when it is a member name
      let end = i + 1;
      while (end < text.length && text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1;
      if (nameNext) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        const names = open[open.length - 1]!;
        if (names.has(name)) return name;
        names.add(name);
        nameNext = false;
      }
      i = end;
    } else if (c === 0x7b) { // '{'
      open.push(new Set());
      nameNext = true;
    } else if (c === 0x5b) { // '['
      open.push(null);
    } else if (c === 0x7d || c === 0x5d) { // '}' ']'
      open.pop();
    } else if (c === 0x2c) { // ',': a name follows in an object, a value in an array
      nameNext = open[open.length - 1] != null;
    }
  }
  return undefined;
}

async function readCheckpoint(path: string): Promise<Checkpoint | string | undefined> {
  try {
    const text = await readFile(checkpointPath(path), 'ascii');
    return text === '' ? undefined : parseCheckpoint(text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // The command names the file it could not read: this one, not the log (readFile leaves EISDIR without a path).
    (error as NodeJS.ErrnoException).path = checkpointPath(path);
    throw error;
  }
}

/**
 * Verifies the audit log at `path` (and `path`.head, its checkpoint, when present).
 * Throws only when the log or its checkpoint cannot be read (missing log, permissions); the error's path names which.
 */
export async function verifyAuditLog(path: string): Promise<AuditVerdict> {
  const checkpoint = await readCheckpoint(path);
  let records = 0;
  let lineNumber = 0;
  let prev = GENESIS_HASH;
  let checkpointLine: number | undefined;
  let rewritten: { lines: number; first: number } | undefined;
  const broken = (reason: string, eventID?: unknown): AuditVerdict => ({
    ok: false, records, line: lineNumber, ...(typeof eventID === 'string' ? { eventID } : {}), reason,
  });

  for await (const { text, terminated } of linesOf(path)) {
    lineNumber += 1;
    if (!terminated) return broken('the last line is incomplete (a torn write; the server truncates it at its next start)');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return broken('the line is not valid JSON');
    }
    const eventID = (parsed as { eventID?: unknown } | null)?.eventID;
    const link = readLink(parsed);
    if (typeof link === 'string') return broken(link, eventID);
    const expected = records + 1;
    if (link.seq > expected) {
      return broken(`record seq ${link.seq} where ${expected} was expected: ${link.seq - expected} record(s) before it were removed or moved`, eventID);
    }
    if (link.seq < expected) {
      return broken(`record seq ${link.seq} where ${expected} was expected: this record was inserted, duplicated or moved`, eventID);
    }
    if (link.prev !== prev) {
      return broken('chain.prev is not the previous record\'s hash: the previous record was altered or this one was inserted', eventID);
    }
    const { hash, canonicalLine } = recomputeLink(parsed as Record<string, unknown>, link);
    if (hash !== link.hash) {
      return broken('the record\'s content does not match its hash: it was edited', eventID);
    }
    // A line as the engine wrote it needs no more checking. One a tool re-serialized (other spacing, escapes or
    // member order) still verifies, but not one that names a member twice in an object: JSON.parse, and so the
    // hash, keeps the last value, while other readers keep the first, so the line could carry a second record
    // (another caller, another key) that they would show and this check would never see.
    if (text !== canonicalLine) {
      const repeated = repeatedMember(text);
      if (repeated !== undefined) {
        return broken(`the line names member ${JSON.stringify(repeated)} twice in one object: it was edited (JSON readers disagree on which value is the record's)`, eventID);
      }
      // Intact, but "\u0061rn" where "arn" was written hides the text from grep: worth saying.
      if (rewritten === undefined) rewritten = { lines: 0, first: lineNumber };
      rewritten.lines += 1;
    }
    if (typeof checkpoint === 'object' && link.seq === checkpoint.seq) {
      if (link.hash !== checkpoint.hash) return broken('the record differs from the one the checkpoint names: it was replaced', eventID);
      checkpointLine = lineNumber;
    }
    prev = link.hash;
    records += 1;
  }

  if (typeof checkpoint === 'string') {
    lineNumber += 1;
    return broken(`${checkpoint} (${checkpointPath(path)})`);
  }
  if (checkpoint !== undefined && checkpointLine === undefined && checkpoint.seq > 0) {
    lineNumber += 1;
    return broken(`the log ends at record ${records} but its checkpoint records ${checkpoint.seq}: records were removed from the end`);
  }
  return { ok: true, records, checkpoint: checkpoint === undefined ? 'absent' : 'matched', ...(rewritten !== undefined ? { rewritten } : {}) };
}

export interface CommandOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleOutput: CommandOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `kms-engine audit verify FILE`: `argv` is what follows `audit verify`. Prints a one-line verdict.
 * Exit codes: 0 intact, 1 broken (first broken record named), 2 usage error or unreadable file.
 */
export async function runAuditVerifyCommand(argv: string[], output: CommandOutput = consoleOutput): Promise<number> {
  if (argv.length !== 1 || argv[0] === '' || argv[0]!.startsWith('-')) return usage('usage: kms-engine audit verify FILE', argv, output);
  const path = argv[0]!;
  let verdict: AuditVerdict;
  try {
    verdict = await verifyAuditLog(path);
  } catch (error) {
    const { code, path: unreadable } = error as NodeJS.ErrnoException;
    output.err(`kms-engine audit verify: cannot read ${unreadable ?? path}: ${code ?? String(error)}`);
    return 2;
  }
  if (verdict.ok) {
    const tail = verdict.checkpoint === 'matched'
      ? 'checkpoint matched'
      : 'no checkpoint file, so removal of the newest records cannot be detected';
    const rewritten = verdict.rewritten === undefined ? ''
      : `; ${verdict.rewritten.lines} line(s) not as the engine wrote them, first line ${verdict.rewritten.first}: `
        + 'their content is intact, but a text search of the file may miss what they hold';
    output.out(`OK ${path}: ${verdict.records} records intact (${tail})${rewritten}`);
    return 0;
  }
  const id = verdict.eventID !== undefined ? ` (eventID ${verdict.eventID})` : '';
  output.out(`BROKEN ${path}: line ${verdict.line}${id}: ${verdict.reason}; ${verdict.records} records before it are intact`);
  return 1;
}
