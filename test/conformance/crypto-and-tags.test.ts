// Symmetric cryptography and tags on the wire, from an audit against kms-api.md (sections 1.3, 5.1-5.3, 6, 7):
// the real server on loopback, the real AWS SDK for JavaScript v3.
import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, ReEncryptCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';

const shared = serverForFile();

describe('an alias named by the ARN of another region or account', () => {
  it("is missing as an alias never made is: NotFoundException \"Alias '<alias ARN>' is not found.\"", async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({}));
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/elsewhere', TargetKeyId: KeyMetadata!.KeyId }));
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: 'alias/elsewhere', Plaintext: Buffer.from('x') }));
    const notFound = (aliasArn: string) => ({ name: 'NotFoundException', status: 404, message: `Alias '${aliasArn}' is not found.` });
    for (const aliasArn of [
      'arn:aws:kms:eu-west-1:111122223333:alias/elsewhere',
      'arn:aws:kms:us-east-1:444455556666:alias/elsewhere',
      'arn:aws:kms:us-east-1:111122223333:alias/never-made',
    ]) {
      expect(await failure(shared.kms.send(new EncryptCommand({ KeyId: aliasArn, Plaintext: Buffer.from('x') }))), aliasArn)
        .toEqual(notFound(aliasArn));
      expect(await failure(shared.kms.send(new DecryptCommand({ KeyId: aliasArn, CiphertextBlob }))), aliasArn).toEqual(notFound(aliasArn));
      expect(await failure(shared.kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: aliasArn }))), aliasArn)
        .toEqual(notFound(aliasArn));
      expect(await failure(shared.kms.send(new GenerateDataKeyCommand({ KeyId: aliasArn, KeySpec: 'AES_256' }))), aliasArn)
        .toEqual(notFound(aliasArn));
    }
  });
});
