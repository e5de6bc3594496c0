// Several engine nodes sharing one PostgreSQL store (and optionally one Redis quota store): separate data
// dirs and audit logs, the same root key file and the same root credentials, as README "Running several nodes".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';

export interface TestCluster {
  nodes: TestServer[];
  /** The KMS_NODE_ID each node was started with. */
  nodeIdOf(node: TestServer): string;
  /** Starts one more node with the cluster's settings (e.g. to replace a killed one), `env` on top. */
  addNode(env?: Record<string, string>): Promise<TestServer>;
  remove(): Promise<void>;
}

export const CLUSTER_CREDENTIALS = { accessKeyId: 'AKIACLUSTERTEST0001', secretAccessKey: 'cluster-test-secret-0001-abcdefghijklmnop' };

/** A second principal with no IAM policy of its own: it can use a key only through a grant. */
export const APP_CREDENTIALS = { accessKeyId: 'AKIACLUSTERAPP000001', secretAccessKey: 'cluster-app-secret-0001-abcdefghijklmnop' };
export const APP_ARN = 'arn:aws:iam::111122223333:user/cluster-app';

export async function startCluster(options: { nodes: number; storeUrl: string; env?: Record<string, string> }): Promise<TestCluster> {
  const shared = mkdtempSync(join(tmpdir(), 'kms-cluster-'));
  const identitiesFile = join(shared, 'identities.json');
  writeFileSync(identitiesFile, JSON.stringify({ identities: [{ ...APP_CREDENTIALS, arn: APP_ARN, policies: [] }] }));
  const env = {
    KMS_STORE: options.storeUrl,
    KMS_IDENTITIES: identitiesFile,
    KMS_ROOT_KEY_FILE: join(shared, 'root.key'),
    KMS_ACCESS_KEY_ID: CLUSTER_CREDENTIALS.accessKeyId,
    KMS_SECRET_ACCESS_KEY: CLUSTER_CREDENTIALS.secretAccessKey,
    KMS_WORKERS: '1',
    ...options.env,
  };
  const nodes: TestServer[] = [];
  const nodeIds = new Map<TestServer, string>();
  let count = 0;
  const addNode = async (extra: Record<string, string> = {}) => {
    const nodeId = `node-${++count}`;
    const node = await startServer({ env: { ...env, KMS_NODE_ID: nodeId, ...extra } });
    nodes.push(node);
    nodeIds.set(node, nodeId);
    return node;
  };
  try {
    await addNode(); // creates the shared root key file before the others read it
    await Promise.all(Array.from({ length: options.nodes - 1 }, () => addNode()));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.remove()));
    rmSync(shared, { recursive: true, force: true });
    throw error;
  }
  return {
    nodes,
    nodeIdOf: (node) => nodeIds.get(node)!,
    addNode,
    async remove() {
      await Promise.all(nodes.map((node) => node.remove()));
      rmSync(shared, { recursive: true, force: true });
    },
  };
}

/** What useClusterOnPostgres starts; its members are set once the file's beforeAll has run. */
export interface ClusterOnPostgres {
  readonly postgres: TestPostgres;
  readonly cluster: TestCluster;
  /** One root-credential SDK client per node, in node order. */
  readonly clients: KMSClient[];
}

/**
 * For the calling test file: a throwaway PostgreSQL and `nodes` engines on it, started before its tests and removed
 * after them (with DEBUG_CLUSTER set, each node's output is printed first).
 */
export function useClusterOnPostgres(nodes: number): ClusterOnPostgres {
  const running = {} as { postgres: TestPostgres; cluster: TestCluster; clients: KMSClient[] };
  beforeAll(async () => {
    running.postgres = await startPostgres();
    running.cluster = await startCluster({ nodes, storeUrl: running.postgres.url });
    running.clients = running.cluster.nodes.map((node) => node.client());
  });
  afterAll(async () => {
    if (process.env.DEBUG_CLUSTER) for (const node of running.cluster?.nodes ?? []) console.log(node.output());
    await running.cluster?.remove();
    await running.postgres?.remove();
  });
  return running;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export { outcome } from '../support/sdk-errors.js';
