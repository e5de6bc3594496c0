// The 50,000 grants per key quota (kms-api.md 8.4 and section 9) holds when CreateGrant calls arrive together:
// the store counts a key's grants in the same step as it inserts one, so calls racing for the last place (here
// through three front ends on one store) get one grant between them, and LimitExceededException for the rest.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CreateGrantCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { startServer, type TestServer } from '../support/server.js';

const MAX_GRANTS_PER_KEY = 50_000;
let server: TestServer | undefined;
afterAll(async () => { await server?.remove(); });

/** Writes `count` grants for the key straight into the stopped server's store, as CreateGrant would have. */
function fillWithGrants(dataDir: string, keyId: string, count: number): void {
  const db = new Database(join(dataDir, 'kms.sqlite'));
  const insert = db.prepare('INSERT INTO grants (grant_id, key_id, retiring_principal, doc) VALUES (?, ?, NULL, ?)');
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const grantId = randomBytes(32).toString('hex');
      insert.run(grantId, keyId, JSON.stringify({ grantId, keyId, granteePrincipal: `arn:aws:iam::${'1'.repeat(12)}:user/u${i}`,
        operations: ['Encrypt'], issuingAccount: '1'.repeat(12), creationDate: 1_700_000_000 + i }));
    }
  })();
  db.close();
}

describe('the grants per key quota', () => {
  it('lets only one of the CreateGrant calls racing for the last place through', async () => {
    server = await startServer();
    const { KeyMetadata } = await server.client().send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    await server.stop();
    fillWithGrants(server.dataDir, keyId, MAX_GRANTS_PER_KEY - 1);
    server = await startServer({ dataDir: server.dataDir, env: { KMS_FRONTENDS: '3' } });
    const kms = server.client();
    const calls = Array.from({ length: 24 }, (_, i) => kms.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: `arn:aws:iam::${server!.accountId}:user/racer${i}`, Operations: ['Decrypt'] })));
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(await failure(Promise.reject(outcome.reason))).toMatchObject({ name: 'LimitExceededException', status: 400 });
      }
    }
    expect(await failure(kms.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: `arn:aws:iam::${server.accountId}:user/late`, Operations: ['Decrypt'] }))))
      .toMatchObject({ name: 'LimitExceededException', status: 400 });
  }, 120_000);
});
