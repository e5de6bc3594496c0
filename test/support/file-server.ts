// The suite's usual set-up for a file of conformance tests: one real server shared by all its tests (server.ts).
// Apart from server.ts because it registers vitest hooks, and server.ts also serves scripts run outside vitest.
import type { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll } from 'vitest';
import { startServer, type StartOptions, type TestServer } from './server.js';

/** The server and client of a file that shares one server among all its tests (serverForFile). */
export interface FileServer {
  server: TestServer;
  kms: KMSClient;
}

/**
 * One server for all of a test file's tests: started before them, removed with its data directory after them.
 * Its fields are set once the file's tests run.
 */
export function serverForFile(options: StartOptions = {}): FileServer {
  const file = {} as FileServer;
  beforeAll(async () => {
    file.server = await startServer(options);
    file.kms = file.server.client();
  });
  afterAll(async () => {
    file.kms?.destroy();
    await file.server?.remove();
  });
  return file;
}
