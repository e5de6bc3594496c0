// Whether a finished run measured anything: the exit status and the line that says why not. A run in which no
// request succeeded (wrong credentials: every answer UnrecognizedClientException; an endpoint that died after
// set-up: every request refused) still prints its report, but exits 1 so a script or CI job does not take its
// numbers for a measurement. A run whose every failure was a throttle exits 0: testing a quota, that is an
// answer (the limit was reached at once), and it is said on stderr.
import type { BenchReport, TargetReport } from './report.js';

export interface Verdict {
  /** 0: every endpoint had a successful request (or only throttles); 1: one had none. */
  exitCode: 0 | 1;
  /** One line per endpoint that had no success, for stderr. */
  lines: string[];
}

/** The commonest error code or transport error cause of a target, with its count. */
function commonest(target: TargetReport): [string, number] | undefined {
  const all = [...Object.entries(target.errorsByCode), ...Object.entries(target.transportErrorsByCause ?? {})];
  return all.sort(([, a], [, b]) => b - a)[0];
}

export function verdictOf(report: BenchReport): Verdict {
  const lines: string[] = [];
  let exitCode: 0 | 1 = 0;
  for (const target of report.targets) {
    const { total, ok, non2xx, transportErrors } = target.requests;
    if (ok > 0) continue;
    if (total === 0) {
      lines.push(`no request to ${target.endpoint} got an answer or an error in ${target.measuredSeconds} s`);
      exitCode = 1;
      continue;
    }
    const [code, count] = commonest(target)!;
    if (transportErrors === 0 && target.throttles === non2xx) {
      lines.push(`every request to ${target.endpoint} was throttled (${total}, most often ${code}): the quota, not the ` +
        'endpoint, set the rate');
      continue;
    }
    lines.push(`no request to ${target.endpoint} succeeded: ${total} sent, ${non2xx} non-2xx, ${transportErrors} ` +
      `transport errors; most often ${code} (${count})`);
    exitCode = 1;
  }
  return { exitCode, lines };
}
