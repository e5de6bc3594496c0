// Key policy documents as KMS accepts or refuses them on the wire (CreateKey, PutKeyPolicy, GetKeyPolicy), and
// identity policies as a KMS_IDENTITIES file may hold them. policies.test.ts covers the common malformed cases
// and the lockout check; this file the principal forms and document rules beyond those.
import { GetKeyPolicyCommand, type KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, accountAdmin, allow, createKeyAs, failure, keyPolicy, startAccessServer, type AccessServer } from './support.js';

let access: AccessServer;
let root: KMSClient;

beforeAll(async () => {
  access = await startAccessServer();
  root = access.as('root');
});
afterAll(async () => {
  await access?.server.remove();
});

const put = (KeyId: string, Policy: string) => root.send(new PutKeyPolicyCommand({ KeyId, PolicyName: 'default', Policy }));
const policyOf = async (KeyId: string) => (await root.send(new GetKeyPolicyCommand({ KeyId }))).Policy;

describe('principals', () => {
  it('a federated user session (sts federated-user ARN) is a valid principal, as in any resource policy', async () => {
    const { keyId } = await createKeyAs(root);
    const federated = keyPolicy(accountAdmin, allow(`arn:aws:sts::${ACCOUNT}:federated-user/Bob`, 'kms:Decrypt'));
    await put(keyId, federated);
    expect(await policyOf(keyId)).toBe(federated);
    const created = await createKeyAs(root, { Policy: federated });
    expect(await policyOf(created.keyId)).toBe(federated);
    // Still a principal ARN: a malformed federated-user name is refused like any invalid principal.
    expect(await failure(put(keyId, keyPolicy(accountAdmin, allow(`arn:aws:sts::${ACCOUNT}:federated-user/`, 'kms:Decrypt')))))
      .toMatchObject({ name: 'MalformedPolicyDocumentException', message: 'Policy contains a statement with one or more invalid principals.' });
  });
});
