// Part of slow-worker.ts: holds its worker in module loading for LOAD_MS before the real worker module runs.
export const LOAD_MS = 400;
const until = Date.now() + LOAD_MS;
while (Date.now() < until) { /* a slow module graph, e.g. a cold disk or a large WebAssembly module */ }
