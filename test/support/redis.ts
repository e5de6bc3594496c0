// A throwaway Redis for tests: redis-server on a free loopback port, no persistence, stopped by the test.
// `halt()` and `start()` keep the port, so a test can take Redis away from running nodes and give it back.
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './postgres.js';

export interface TestRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: it is gone at once, as in a crash). */
  halt(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted). */
  start(): Promise<void>;
  remove(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = () => new Promise<void>((resolve, reject) => {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = server;
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start in 10 s:\n${output}`)), 10_000);
    server.on('error', (error) => { clearTimeout(timer); reject(error); });
    server.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    server.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code}:\n${output}`)); });
  });
  const halt = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, halt, start, remove: halt };
}
