// A stand-in KMS endpoint on loopback for the load generator's own tests: one Encrypt workload, test
// credentials, and a node:http server whose handler each test writes to misbehave its own way.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Workload } from '../../bench/harness/scenarios.js';

export const ENCRYPT_WORKLOAD: Workload = {
  label: 'encrypt', keys: {},
  items: [{ scenario: 'encrypt', weight: 1, operation: 'Encrypt', bodies: ['{"KeyId":"k","Plaintext":"AA=="}'] }],
};
export const TEST_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

/** At most one loopback server at a time; close() (in afterEach) drops its connections and stops it. */
export class LoopbackEndpoint {
  private server: Server | undefined;

  /** Starts a server with this handler on a free port; returns its URL. */
  async listen(handler: RequestListener): Promise<string> {
    const server = createServer(handler);
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
