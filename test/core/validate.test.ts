import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeInput } from '../../src/protocol/validate.js';
import { KmsError } from '../../src/protocol/errors.js';

function error(operation: string, body: unknown): KmsError {
  try {
    decodeInput(operation, body);
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected a KmsError');
}

describe('decodeInput against the AWS service model', () => {
  it('decodes blobs to bytes and keeps other members', () => {
    const input = decodeInput('Encrypt', { KeyId: 'alias/a', Plaintext: 'aGk=', EncryptionContext: { a: 'b' }, Unknown: 1 });
    expect(input).toEqual({ KeyId: 'alias/a', Plaintext: Buffer.from('hi'), EncryptionContext: { a: 'b' } });
  });

  it('reports every violated constraint in AWS wording, lowerCamelCase paths', () => {
    const e = error('GenerateDataKey', { KeyId: '', NumberOfBytes: 2000, KeySpec: 'AES_512' });
    expect(e.code).toBe('ValidationException');
    expect(e.message).toBe('3 validation errors detected: '
      + "Value at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; "
      + "Value at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024; "
      + "Value at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]");
    // Members are checked in the model's order, as AWS lists them.
  });

  it('checks list lengths and list members', () => {
    const tokens = Array.from({ length: 11 }, () => 'dG9rZW4=');
    expect(error('Encrypt', { KeyId: 'k', Plaintext: 'aGk=', GrantTokens: tokens }).message)
      .toContain("Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10");
  });

  it('answers SerializationException for wrong JSON types', () => {
    for (const body of [[], 'text', null, { Limit: '5' }, { Limit: 2.5 }, { Marker: {} }]) {
      expect(error('ListKeys', body).code).toBe('SerializationException');
    }
    expect(error('DescribeKey', { KeyId: 1 }).code).toBe('SerializationException');
    expect(error('Encrypt', { KeyId: 'k', Plaintext: 'aGk=', EncryptionContext: { a: 1 } }).code).toBe('SerializationException');
  });

  it('never echoes a submitted value', () => {
    const e = error('CreateKey', { KeySpec: 'MARKER-VALUE-123', Description: 'x'.repeat(9000) });
    expect(e.message).not.toContain('MARKER-VALUE-123');
    expect(e.message).not.toContain('xxxx');
  });
});

describe('decodeBase64', () => {
  it('accepts exactly standard padded base64', () => {
    expect(decodeBase64('aGVsbG8=')).toEqual(Buffer.from('hello'));
    expect(decodeBase64('')).toEqual(Buffer.alloc(0));
    for (const bad of ['aGVsbG8', 'aGVs bG8=', 'aGVsbG8==', 'aGV$bG8=', 'aGVsbG8_', '====']) expect(decodeBase64(bad)).toBeNull();
  });
});
