// GenerateRandom names no key, so IAM alone decides it (kms:GenerateRandom on resource "*"). A caller without that
// right is refused before anything it asked for is looked at, the custom key store it names included; a caller
// with it learns that the store does not exist. Also the one GenerateRandom rule the model does not carry:
// NumberOfBytes has no default. Real server, real AWS SDK, identities from support.ts.
import { GenerateRandomCommand, type KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { accessDenied, failure, withAccessServer, type AccessServer } from './support.js';

let access: AccessServer;
let root: KMSClient;

withAccessServer((server) => { access = server; root = server.as('root'); });

const STORE = 'cks-1234567890abcdef0';

describe('GenerateRandom authorization', () => {
  it('a caller without kms:GenerateRandom is AccessDeniedException, with or without a CustomKeyStoreId', async () => {
    // bob has no identity policy: nothing allows kms:GenerateRandom.
    const denied = accessDenied('bob', 'kms:GenerateRandom', '*', 'no-identity');
    expect(await failure(access.as('bob').send(new GenerateRandomCommand({ NumberOfBytes: 16 })))).toEqual(denied);
    expect(await failure(access.as('bob').send(new GenerateRandomCommand({ NumberOfBytes: 16, CustomKeyStoreId: STORE }))))
      .toEqual(denied);
    // carol's IAM policy allows kms:*: she is told the store does not exist, as root is.
    for (const caller of [root, access.as('carol')]) {
      expect(await failure(caller.send(new GenerateRandomCommand({ NumberOfBytes: 16, CustomKeyStoreId: STORE }))))
        .toEqual({ name: 'CustomKeyStoreNotFoundException', status: 400, message: 'The specified custom key store does not exist.' });
    }
  });
});

describe('GenerateRandom requests', () => {
  it('NumberOfBytes is required (no default): missing, it is refused in the words of any missing required member', async () => {
    const required = "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null";
    expect(await failure(root.send(new GenerateRandomCommand({}))))
      .toEqual({ name: 'ValidationException', status: 400, message: required });
    expect(await failure(root.send(new GenerateRandomCommand({ CustomKeyStoreId: STORE }))))
      .toEqual({ name: 'ValidationException', status: 400, message: required });
  });
});
