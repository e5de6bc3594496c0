// `kms-engine bench [options]`: parses the options, runs the benchmark, prints the report (markdown, or JSON
// with --json) and writes the report files. Progress goes to stderr once a second.
import { runBenchmark } from './benchmark.js';
import { parseBenchOptions, USAGE, UsageError } from './options.js';
import { prepareOutputDirectory, writeReportFiles } from './output.js';
import { renderMarkdown } from './report.js';
import type { LoadProgress } from './load.js';
import { verdictOf } from './verdict.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, what a shell reports for a command ended by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/**
 * The progress line: one per second of each measured (or warm-up) segment, keyed on the second it shows. Keyed
 * on the wall clock since the last line instead, a tick that came a millisecond early was dropped, and runs
 * showed 1s, 3s, 5s...
 */
export function progressPrinter(write?: (text: string) => void): (endpoint: string, phase: string, progress: LoadProgress) => void {
  let lastShown = '';
  return (endpoint, phase, progress) => {
    if (!write) return;
    const seconds = progress.elapsedMs / 1000;
    const shown = `${phase} ${endpoint} ${seconds.toFixed(0)}s`;
    if (shown === lastShown) return;
    lastShown = shown;
    const rate = seconds > 0 ? Math.round(progress.responses / seconds) : 0;
    write(`${shown}: ${progress.responses} responses, ${rate} req/s, ` +
      `${progress.non2xx} non-2xx, ${progress.transportErrors} transport errors\n`);
  };
}

export async function runBench(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseBenchOptions(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // One line, as the tools people script around do: the whole --help under it buried the reason.
    process.stderr.write(`kms-engine bench: ${error.message} (kms-engine bench --help lists the options)\n`);
    return EXIT_USAGE;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  const quiet = options.quiet;
  if (options.out) {
    try {
      prepareOutputDirectory(options.out);
    } catch (error) {
      process.stderr.write(`kms-engine bench: --out ${options.out}: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT_USAGE;
    }
  }
  // Ctrl-C, as k6 and autocannon do: the first ends the measurement and prints what was measured (exit 130); a
  // second quits at once.
  const stop = new AbortController();
  const interrupt = (): void => {
    process.stderr.write('kms-engine bench: interrupted; reporting what was measured (Ctrl-C again to quit at once)\n');
    stop.abort();
    process.once('SIGINT', () => process.exit(EXIT_INTERRUPTED));
  };
  process.once('SIGINT', interrupt);
  try {
    const report = await runBenchmark(options, { stop: stop.signal,
      progress: progressPrinter(quiet ? undefined : (text) => process.stderr.write(text)),
      note: (line) => { if (!quiet) process.stderr.write(`${line}\n`); },
    });
    // The report reaches stdout first, so a failure to write the files cannot lose it.
    process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : renderMarkdown(report) + '\n');
    if (options.out) {
      const files = await writeReportFiles(options.out, report);
      if (!quiet) process.stderr.write(`wrote ${files.join(', ')}\n`);
    }
    // Said even with --quiet: it is why the exit status is what it is.
    const verdict = verdictOf(report);
    for (const line of verdict.lines) process.stderr.write(`kms-engine bench: ${line}\n`);
    if (report.interrupted) return EXIT_INTERRUPTED;
    return verdict.exitCode === 0 ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    process.stderr.write(`kms-engine bench: ${error instanceof Error ? error.message : String(error)}\n`);
    return stop.signal.aborted ? EXIT_INTERRUPTED : EXIT_FAILED;
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
}
