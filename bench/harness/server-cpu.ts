// CPU time of the server under test, from /proc: utime + stime of the given processes and of every process
// below them (cluster workers, worker processes), so "requests per server CPU-second" counts the whole server.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // USER_HZ on every mainstream Linux build
    }
  }
  return ticksPerSecond;
}

/** utime + stime of one process in clock ticks, or undefined when it is gone. */
function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)"; comm may contain spaces or parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5), counted from state = 3
  } catch {
    return undefined;
  }
}

/** Direct child processes of `pid` (from every thread's children list in /proc). */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** The given processes and all their descendants. */
export function processTree(roots: readonly number[]): number[] {
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...childPids(pid));
  }
  return [...seen];
}

export interface CpuSample {
  ticks: Map<number, number>;
}

export function sampleCpu(roots: readonly number[]): CpuSample {
  const ticks = new Map<number, number>();
  for (const pid of processTree(roots)) {
    const value = processTicks(pid);
    if (value !== undefined) ticks.set(pid, value);
  }
  return { ticks };
}

/** CPU-seconds used between two samples by processes alive at both (a process started in between counts whole). */
export function cpuSecondsBetween(before: CpuSample, after: CpuSample): number {
  let ticks = 0;
  for (const [pid, value] of after.ticks) ticks += value - (before.ticks.get(pid) ?? 0);
  return ticks / clockTicks();
}

export const isLoopbackEndpoint = (endpoint: string): boolean => {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || host.startsWith('127.');
};
