// Request validation against AWS's service model and kms-api.md, from an audit of what the server answers to
// inputs the model or the documented rules refuse: missing members, wrong JSON types, values outside their
// lengths, ranges, enums and patterns, and the rules kms-api.md section 5.1 adds. The real server, driven by the
// AWS SDK (which validates nothing itself), and by signed raw requests for bodies the SDK cannot build.
import {
  CreateKeyCommand, EncryptCommand, GenerateDataKeyCommand, GetParametersForImportCommand, ImportKeyMaterialCommand,
  ScheduleKeyDeletionCommand, SignCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';
import { post } from '../hardening/raw-client.js';

const shared = serverForFile();

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<string> {
  const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand(input));
  return KeyMetadata!.Arn!;
}

describe('ValidationException messages', () => {
  it('count every violation but list at most 100 of them, so a body of empty list items cannot blow up the answer', async () => {
    const keyId = await newKey();
    // 20,000 empty grant tokens: the list is too long, and every token is shorter than 1 character.
    const tokens = Array.from({ length: 20_000 }, () => '');
    const refused = await failure(shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), GrantTokens: tokens })));
    expect({ name: refused.name, status: refused.status }).toEqual({ name: 'ValidationException', status: 400 });
    expect(refused.message).toMatch(/^20001 validation errors detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10; /);
    const listed = refused.message.split('; ');
    expect(listed).toHaveLength(100);
    expect(listed[99]).toBe("Value at 'grantTokens.99.member' failed to satisfy constraint: Member must have length greater than or equal to 1");
    expect(refused.message.length).toBeLessThan(16 * 1024);
    // A request with a few violations still lists each of them.
    const few = await failure(shared.kms.send(new GenerateDataKeyCommand({ KeyId: '', NumberOfBytes: 0 })));
    expect(few.message).toBe('2 validation errors detected: '
      + "Value at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; "
      + "Value at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1");
  });
});

describe('patterns', () => {
  it('an empty KeyMaterialDescription fails its pattern (^[a-zA-Z0-9:/_\\s.-]+$): the model allows length 0, the pattern does not', async () => {
    const keyId = await newKey({ Origin: 'EXTERNAL' });
    const { ImportToken } = await shared.kms.send(new GetParametersForImportCommand({
      KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048',
    }));
    const refused = await failure(shared.kms.send(new ImportKeyMaterialCommand({
      KeyId: keyId, ImportToken, EncryptedKeyMaterial: Buffer.alloc(256, 1),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', KeyMaterialDescription: '',
    })));
    expect(refused).toEqual({
      name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'keyMaterialDescription' failed to satisfy constraint: "
        + 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\\s.-]+$',
    });
    // Empty strings elsewhere still get the one length violation, not a second one for the pattern.
    const alias = await post(shared.server, 'CreateAlias', JSON.stringify({ AliasName: '', TargetKeyId: keyId }));
    expect(alias.json?.message).toBe("1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must have length greater than or equal to 1");
  });
});

describe('documented rules that hold (kms-api.md sections 1.3 and 5.1)', () => {
  it('answer ValidationException for out-of-rule values and SerializationException for wrong JSON types', async () => {
    const symmetric = await newKey();
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const ecc = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
      ['GenerateDataKey with both KeySpec and NumberOfBytes', () => shared.kms.send(new GenerateDataKeyCommand({ KeyId: symmetric, KeySpec: 'AES_256', NumberOfBytes: 32 })),
        'ValidationException', /number of bytes or key spec/],
      ['GenerateDataKey with neither', () => shared.kms.send(new GenerateDataKeyCommand({ KeyId: symmetric })), 'ValidationException', /number of bytes or key spec/],
      ['PendingWindowInDays 6', () => shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: symmetric, PendingWindowInDays: 6 })),
        'ValidationException', /'pendingWindowInDays'.*greater than or equal to 7/],
      ['PendingWindowInDays 31', () => shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: symmetric, PendingWindowInDays: 31 })),
        'ValidationException', /'pendingWindowInDays'.*less than or equal to 30/],
      ['a DIGEST of the wrong length', () => shared.kms.send(new SignCommand({ KeyId: ecc, Message: Buffer.alloc(31), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })),
        'ValidationException', /Digest is invalid length for algorithm ECDSA_SHA_256/],
      ['an encryption context with an RSA key', () => shared.kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: { a: 'b' } })),
        'ValidationException', /EncryptionContext is not supported/],
      ['a plaintext over 4096 bytes', () => shared.kms.send(new EncryptCommand({ KeyId: symmetric, Plaintext: Buffer.alloc(4097) })),
        'ValidationException', /^1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096$/],
      ['an enum value outside the model', () => shared.kms.send(new CreateKeyCommand({ KeyUsage: 'ENCRYPT' as never })),
        'ValidationException', /^1 validation error detected: Value at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: \[SIGN_VERIFY, /],
      ['a fractional integer', () => shared.kms.send(new GenerateDataKeyCommand({ KeyId: symmetric, NumberOfBytes: 1.5 })), 'SerializationException', /'numberOfBytes'/],
    ];
    for (const [label, call, name, message] of cases) {
      const refused = await failure(call());
      expect({ label, name: refused.name, status: refused.status }).toEqual({ label, name, status: 400 });
      expect(refused.message, label).toMatch(message);
    }
  });

  it('take bodies the SDK would not build: not JSON, not an object, a blob that is not base64, an unknown member', async () => {
    const symmetric = await newKey();
    const answers = await Promise.all([
      post(shared.server, 'Encrypt', '{"KeyId":'),
      post(shared.server, 'Encrypt', '["KeyId"]'),
      post(shared.server, 'Encrypt', '"text"'),
      post(shared.server, 'Encrypt', JSON.stringify({ KeyId: symmetric, Plaintext: 'aGk' })),
      post(shared.server, 'Encrypt', JSON.stringify({ KeyId: symmetric, Plaintext: 'secret plaintext' })),
      post(shared.server, 'Encrypt', JSON.stringify({ KeyId: symmetric, Plaintext: 5 })),
      post(shared.server, 'Encrypt', ''),
      post(shared.server, 'Encrypt', JSON.stringify({ KeyId: symmetric, Plaintext: 'aGk=', NotAMember: { deep: [1] } })),
    ]);
    expect(answers.map((answer) => [answer.status, answer.json?.__type])).toEqual([
      [400, 'SerializationException'], [400, 'SerializationException'], [400, 'SerializationException'],
      [400, 'SerializationException'], [400, 'SerializationException'], [400, 'SerializationException'],
      [400, 'ValidationException'], [200, undefined],
    ]);
    expect(answers[6]!.json?.message).toBe('2 validation errors detected: '
      + "Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
      + "Value null at 'plaintext' failed to satisfy constraint: Member must not be null");
    for (const answer of answers) expect(answer.text).not.toContain('secret');
  });
});
