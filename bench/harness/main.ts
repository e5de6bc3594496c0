// Standalone entry: `node dist/bench/harness/main.js [options]`, the same as `kms-engine bench [options]`.
import { runBench } from './cli.js';

process.exitCode = await runBench(process.argv.slice(2));
