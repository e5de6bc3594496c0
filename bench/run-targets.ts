// The side-by-side procedure behind issue 6's table: start the bare reference server and the engine on
// loopback, run each scenario against both alternately (the harness's --compare rounds), and write
// bench/RESULTS.md with requests per server CPU-second for each and their ratio, plus the machine, Node
// version, git commit and date. Per-scenario report files go to bench/out/<scenario>/.
//
//   npm run build && node dist/bench/run-targets.js [--duration 10] [--rounds 2] [--connections 64]
//     [--workers 1] [--processes N] [--scenarios encrypt,sign-rsa,...] [--results bench/RESULTS.md]
//
// Both servers and the load generator share this machine; CPU-seconds are read from /proc for each
// server's process tree only, so the ratio does not depend on how much CPU the harness itself takes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { KeySpec } from '../src/contract/key-specs.js';
import { runBenchmark } from './harness/benchmark.js';
import type { BenchOptions } from './harness/options.js';
import { writeReportFiles } from './harness/output.js';
import type { BenchReport, TargetReport } from './harness/report.js';
import { parseMix } from './harness/scenarios.js';
import type { Credentials } from './harness/signer.js';

const ROOT = new URL('../../', import.meta.url).pathname; // dist/bench/ -> repository root

interface Case {
  name: string;
  mix: string;
  keySpec?: KeySpec;
  payloadBytes?: number;
}

const CASES: readonly Case[] = [
  { name: 'encrypt', mix: 'encrypt' },
  { name: 'decrypt', mix: 'decrypt' },
  { name: 'generate-data-key', mix: 'generate-data-key' },
  { name: 'envelope', mix: 'envelope' },
  { name: 'sign-p256', mix: 'sign', keySpec: 'ECC_NIST_P256' },
  { name: 'verify-p256', mix: 'verify', keySpec: 'ECC_NIST_P256' },
  { name: 'sign-ed25519', mix: 'sign', keySpec: 'ECC_NIST_EDWARDS25519' },
  { name: 'sign-rsa2048', mix: 'sign', keySpec: 'RSA_2048' },
  { name: 'decrypt-rsa2048-oaep', mix: 'decrypt', keySpec: 'RSA_2048', payloadBytes: 128 },
];

interface Started {
  child: ChildProcess;
  url: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function startReference(processes: number): Promise<Started> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/reference-server.js'), '--port', '0',
    '--processes', String(processes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`reference server exited with ${code}`)));
  });
}

/** `node bin/kms-engine.js serve` with a fresh data directory; ready when GET /healthz answers 200. */
async function startEngine(dataDir: string): Promise<Started & { credentials: Credentials }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin/kms-engine.js'), 'serve'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', KMS_DATA_DIR: dataDir },
  });
  let exited: number | null | undefined;
  child.once('exit', (code) => { exited = code; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`the engine exited with ${exited} before it was ready`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const credentials = JSON.parse(readFileSync(join(dataDir, 'credentials'), 'utf8')) as Credentials;
  return { child, url, credentials };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function machine(): { cpus: number; cpuModel: string; node: string; commit: string; date: string } {
  const cpuinfo = (() => { try { return readFileSync('/proc/cpuinfo', 'utf8'); } catch { return ''; } })();
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    // not a git checkout
  }
  return { cpus: availableParallelism(), cpuModel, node: process.version, commit, date: new Date().toISOString() };
}

const cell = (value: number | undefined): string => (value === undefined ? '-' : String(value));
const errors = (t: TargetReport): string =>
  Object.entries(t.errorsByCode).map(([code, count]) => `${code} ${count}`).join(', ') || '0';

function renderResults(results: { name: string; report: BenchReport }[], settings: string): string {
  const m = machine();
  const rows = results.map(({ name, report }) => {
    const [engine, reference] = report.targets as [TargetReport, TargetReport];
    const ratio = report.comparison?.find((r) => r.metric === 'requests per server CPU-second')?.ratio;
    return `| ${name} | ${engine.successRps} | ${reference.successRps} | ${cell(engine.requestsPerServerCpuSecond)} | ` +
      `${cell(reference.requestsPerServerCpuSecond)} | **${cell(ratio)}** | ${engine.latencyMs.p99} | ${reference.latencyMs.p99} | ` +
      `${errors(engine)} |`;
  });
  return [
    '# Engine vs the bare reference server',
    '',
    'Generated by `node dist/bench/run-targets.js` (see bench/README.md). The reference server is node:http +',
    'node:cluster doing the same cryptography inline with no auth, store, quotas, audit or metrics: the practical',
    'ceiling for Node here. The figure compared is **successful requests per server CPU-second** (server process',
    'trees only, from /proc), because the load generator shares the machine. HTTP figures on this machine vary by up',
    'to 1.8x between identical runs (ceilings.md): read them as +-30%.',
    '',
    `- machine: ${m.cpus} CPUs, ${m.cpuModel}`,
    `- Node ${m.node}; commit ${m.commit}; ${m.date}`,
    `- ${settings}`,
    '',
    '| scenario | engine req/s | reference req/s | engine req per CPU-s | reference req per CPU-s | ratio | engine p99 ms | reference p99 ms | engine errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    'Per-scenario reports (report.md, report.json, charts): `bench/out/<scenario>/`.',
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: {
    duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' },
    workers: { type: 'string' }, processes: { type: 'string' }, scenarios: { type: 'string' },
    results: { type: 'string' },
  } });
  const chosen = values.scenarios ? values.scenarios.split(',') : CASES.map((c) => c.name);
  const cases = chosen.map((name) => {
    const found = CASES.find((c) => c.name === name);
    if (!found) throw new Error(`unknown scenario '${name}'; one of ${CASES.map((c) => c.name).join(', ')}`);
    return found;
  });
  const durationSeconds = Number(values.duration ?? 10);
  const rounds = Number(values.rounds ?? 2);
  const connections = Number(values.connections ?? 64);
  const workers = Number(values.workers ?? 1);
  const processes = Number(values.processes ?? availableParallelism());
  const resultsPath = values.results ?? join(ROOT, 'bench/RESULTS.md');

  const dataDir = mkdtempSync(join(tmpdir(), 'kms-engine-bench-'));
  const reference = await startReference(processes);
  let engine: Awaited<ReturnType<typeof startEngine>> | undefined;
  try {
    engine = await startEngine(dataDir);
    process.stderr.write(`engine ${engine.url} (pid ${engine.child.pid}), reference ${reference.url} (pid ${reference.child.pid})\n`);
    const results: { name: string; report: BenchReport }[] = [];
    for (const c of cases) {
      const options: BenchOptions = {
        endpoint: engine.url, compare: reference.url, region: 'us-east-1', credentials: engine.credentials,
        credentialSource: 'engine data directory', mix: parseMix(c.mix), keySpec: c.keySpec,
        payloadBytes: c.payloadBytes ?? 1024, connections, durationSeconds, warmupSeconds: 2, rounds, workers,
        poolSize: 256, timeoutSeconds: 10, serverPids: [engine.child.pid!], compareServerPids: [reference.child.pid!],
        json: false, quiet: false,
      };
      process.stderr.write(`== ${c.name}\n`);
      const report = await runBenchmark(options, { note: (line) => process.stderr.write(`${line}\n`) });
      await writeReportFiles(join(ROOT, 'bench/out', c.name), report);
      results.push({ name: c.name, report });
    }
    const settings = `${connections} connections, ${durationSeconds} s per endpoint in ${rounds} alternating rounds ` +
      `after 2 s warm-up, ${workers} load thread(s), payload 1024 B (RSA OAEP 128 B), reference on ${processes} process(es), engine with default settings`;
    writeFileSync(resultsPath, renderResults(results, settings));
    process.stderr.write(`wrote ${resultsPath}\n`);
    return 0;
  } finally {
    if (engine) await stop(engine.child);
    await stop(reference.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`run-targets: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
