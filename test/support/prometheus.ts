// A throwaway Prometheus for tests: temp config (1 s scrapes) and storage, a free loopback port, ready-waiting
// and clean stop. Debian's `prometheus` package provides both `prometheus` and `promtool`.

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SCRAPE_JOB = 'kms-engine';

const installed = (command: string): boolean => spawnSync(command, ['--version']).status === 0;

/** Installs Debian's prometheus package (prometheus + promtool) when either command is missing. */
export function ensurePrometheusInstalled(): void {
  if (installed('prometheus') && installed('promtool')) return;
  execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus'],
    { stdio: 'ignore' });
}

async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, process?: ChildProcess,
  stderr?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (process !== undefined && process.exitCode !== null) {
      throw new Error(`prometheus exited (${process.exitCode}) before ${what}: ${stderr?.().slice(-2000)}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

export interface RunningPrometheus {
  url: string;
  /** Resolves once the target has been scraped `scrapes` times successfully (rate() needs at least two). */
  waitForScrapes(scrapes: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `scrapeTarget` (host:port, path /metrics) every second. */
export async function startPrometheus(scrapeTarget: string): Promise<RunningPrometheus> {
  ensurePrometheusInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'kms-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    `  - job_name: ${SCRAPE_JOB}`,
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: ['${scrapeTarget}']`,
    '',
  ].join('\n'));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn('prometheus', [
    `--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-8000); });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil('ready', async () => (await fetch(`${url}/-/ready`)).ok, 30_000, child, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    stop,
    async waitForScrapes(scrapes, timeoutMs = 30_000) {
      const query = encodeURIComponent(`sum_over_time(up{job="${SCRAPE_JOB}"}[5m])`);
      await waitUntil(`${scrapes} scrapes of ${scrapeTarget}`, async () => {
        const answer = await (await fetch(`${url}/api/v1/query?query=${query}`)).json() as
          { data?: { result?: Array<{ value: [number, string] }> } };
        return Number(answer.data?.result?.[0]?.value[1] ?? 0) >= scrapes;
      }, timeoutMs, child, () => stderr);
    },
  };
}
