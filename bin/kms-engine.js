#!/usr/bin/env node
// Entry point of the `kms-engine` command; the code runs compiled from dist/ (npm start and npm test build it).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('kms-engine: not built yet; run `npm run build` (npm start and npm test build first)');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exit(await main(process.argv.slice(2)));
