// `kms-engine bench [options]`: parses the options, runs the benchmark, prints the report (markdown, or JSON
// with --json) and writes the report files. Progress goes to stderr at most once a second.
import { runBenchmark } from './benchmark.js';
import { parseBenchOptions, USAGE, UsageError } from './options.js';
import { writeReportFiles } from './output.js';
import { renderMarkdown } from './report.js';
import type { LoadProgress } from './load.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

function progressPrinter(enabled: boolean): (endpoint: string, phase: string, progress: LoadProgress) => void {
  let lastPrinted = 0;
  return (endpoint, phase, progress) => {
    const now = Date.now();
    if (!enabled || now - lastPrinted < 1000) return;
    lastPrinted = now;
    const seconds = progress.elapsedMs / 1000;
    const rate = seconds > 0 ? Math.round(progress.responses / seconds) : 0;
    process.stderr.write(`${phase} ${endpoint} ${seconds.toFixed(0)}s: ${progress.responses} responses, ${rate} req/s, ` +
      `${progress.non2xx} non-2xx, ${progress.transportErrors} transport errors\n`);
  };
}

export async function runBench(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseBenchOptions(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`kms-engine bench: ${error.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  const quiet = options.quiet;
  try {
    const report = await runBenchmark(options, {
      progress: progressPrinter(!quiet),
      note: (line) => { if (!quiet) process.stderr.write(`${line}\n`); },
    });
    if (options.out) {
      const files = await writeReportFiles(options.out, report);
      if (!quiet) process.stderr.write(`wrote ${files.join(', ')}\n`);
    }
    process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : renderMarkdown(report) + '\n');
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`kms-engine bench: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILED;
  }
}
