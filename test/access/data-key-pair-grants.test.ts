// Per-tenant data key pairs through grants, end to end with the real SDK: a grant for
// GenerateDataKeyPairWithoutPlaintext constrained to one tenant's encryption context lets the grantee mint that
// tenant's pairs (with the grant's token) and nothing else: not GenerateDataKeyPair (a grant operation of its own),
// not another tenant's context, not an empty one, and not Decrypt of what it minted until a Decrypt grant says so.
// The public key and the private key the grant holder later opens are checked to be one pair with node:crypto.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  CreateGrantCommand, DecryptCommand, GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand, KMSClient,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { accessDenied, arnOf, createKeyAs, failure, withAccessServer } from './support.js';

let root: KMSClient;
let bob: KMSClient;
withAccessServer((server) => { root = server.as('root'); bob = server.as('bob'); });

describe('GenerateDataKeyPair* through grants', () => {
  it('a grant for GenerateDataKeyPairWithoutPlaintext with EncryptionContextSubset mints that tenant\'s pairs only', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const { GrantToken } = await root.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['GenerateDataKeyPairWithoutPlaintext'],
      Constraints: { EncryptionContextSubset: { tenant: 'a' } },
    }));
    const context = { tenant: 'a', purpose: 'signing' };
    const minted = await bob.send(new GenerateDataKeyPairWithoutPlaintextCommand({
      KeyId: keyId, KeyPairSpec: 'ECC_NIST_P384', EncryptionContext: context, GrantTokens: [GrantToken!],
    }));
    expect(minted).toMatchObject({ KeyId: arn, KeyPairSpec: 'ECC_NIST_P384' });

    const denied = (action: string) => accessDenied('bob', action, arn, 'no-identity');
    expect(await failure(bob.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P384', EncryptionContext: context }))))
      .toEqual(denied('kms:GenerateDataKeyPair'));
    const others: Array<Record<string, string> | undefined> = [{ tenant: 'b' }, { tenant: 'A' }, {}, undefined];
    for (const other of others) {
      expect(await failure(bob.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P384', EncryptionContext: other }))))
        .toEqual(denied('kms:GenerateDataKeyPairWithoutPlaintext'));
    }
    expect(await failure(bob.send(new DecryptCommand({ CiphertextBlob: minted.PrivateKeyCiphertextBlob, EncryptionContext: context }))))
      .toMatchObject({ name: 'AccessDeniedException', message: expect.stringContaining('kms:Decrypt on the resource associated with this ciphertext') });

    await root.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Decrypt'], Constraints: { EncryptionContextEquals: context },
    }));
    const opened = await bob.send(new DecryptCommand({ CiphertextBlob: minted.PrivateKeyCiphertextBlob, EncryptionContext: context }));
    const privateKey = createPrivateKey({ key: Buffer.from(opened.Plaintext!), format: 'der', type: 'pkcs8' });
    expect(privateKey.asymmetricKeyDetails).toEqual({ namedCurve: 'secp384r1' });
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(Buffer.from(minted.PublicKey!))).toBe(true);
  });

  it('a grant for GenerateDataKeyPair does not cover GenerateDataKeyPairWithoutPlaintext', async () => {
    const { keyId, arn } = await createKeyAs(root);
    await root.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['GenerateDataKeyPair'] }));
    const pair = await bob.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_EDWARDS25519' }));
    const privateKey = createPrivateKey({ key: Buffer.from(pair.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' });
    expect(privateKey.asymmetricKeyType).toBe('ed25519');
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(Buffer.from(pair.PublicKey!))).toBe(true);
    expect(await failure(bob.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_EDWARDS25519' }))))
      .toEqual(accessDenied('bob', 'kms:GenerateDataKeyPairWithoutPlaintext', arn, 'no-identity'));
  });
});
