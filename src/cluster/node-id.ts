// This node's name in a cluster: KMS_NODE_ID, else an id generated on first start and kept in the data dir so a
// restarted node keeps its name (its audit log's records and its change notifications stay attributable).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathError, type Config } from '../config.js';

const NODE_ID_FILE = 'node-id';

export function resolveNodeId(config: Pick<Config, 'nodeId' | 'dataDir'>): string {
  if (config.nodeId !== undefined) return config.nodeId;
  const path = join(config.dataDir, NODE_ID_FILE);
  try {
    const stored = readFileSync(path, 'utf8').trim();
    if (/^[A-Za-z0-9._-]{1,48}$/.test(stored)) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw pathError('KMS_DATA_DIR', path, error);
  }
  const generated = `node-${randomBytes(6).toString('hex')}`;
  try {
    writeFileSync(path, `${generated}\n`, { mode: 0o600 });
  } catch (error) {
    throw pathError('KMS_DATA_DIR', path, error);
  }
  return generated;
}
