// The 50,000 grants per key quota across nodes on one PostgreSQL store: CreateGrant calls sent to three nodes at
// once for a key's last place make one grant between them (the store counts under the key's lock as it inserts).
import { CreateGrantCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { APP_ARN, outcome, useClusterOnPostgres } from './helpers.js';

const MAX_GRANTS_PER_KEY = 50_000;
const shared = useClusterOnPostgres(3);

/** Writes `count` grants for the key straight into the store, as CreateGrant would have. */
async function fillWithGrants(keyId: string, count: number): Promise<void> {
  const db = new pg.Client({ connectionString: shared.postgres.url });
  await db.connect();
  try {
    await db.query(`INSERT INTO kms_grants (grant_id, key_id, retiring_principal, doc)
      SELECT g.id, $1, NULL, json_build_object('grantId', g.id, 'keyId', $1::text, 'granteePrincipal', $2::text,
        'operations', json_build_array('Encrypt'), 'issuingAccount', '111122223333', 'creationDate', 1700000000 + g.n)::text
      FROM (SELECT n, encode(sha256(($1 || n)::bytea), 'hex') AS id FROM generate_series(1, $3::int) AS n) AS g`,
    [keyId, APP_ARN, count]);
  } finally {
    await db.end();
  }
}

describe('the grants per key quota on a cluster', () => {
  it('lets only one of the CreateGrant calls sent to three nodes for the last place through', async () => {
    const keyId = (await shared.clients[0]!.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await fillWithGrants(keyId, MAX_GRANTS_PER_KEY - 1);
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => outcome(shared.clients[i % 3]!.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: APP_ARN, Operations: ['Decrypt'] })))));
    expect(outcomes.filter((result) => result === 'ok')).toHaveLength(1);
    expect(outcomes.filter((result) => result !== 'ok')).toEqual(Array(11).fill('LimitExceededException'));
  }, 120_000);
});
