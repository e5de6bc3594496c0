import { describe, expect, it } from 'vitest';
import { parseQuotas, PRESET_OPERATIONS } from '../../src/quota/index.js';

// kms-api.md section 9, copied by hand: the preset must equal this table, not be derived from the same source.
const MANAGEMENT_TABLE = `
CancelKeyDeletion 5 | GetKeyLastUsage 5 | ListRetirableGrants 100
ConnectCustomKeyStore 5 | GetKeyPolicy 1000 | PutKeyPolicy 15
CreateAlias 5 | GetKeyRotationStatus 1000 | ReplicateKey 5
CreateCustomKeyStore 5 | GetParametersForImport 1 | RetireGrant 50
CreateGrant 50 | GetPublicKey 2000 | RevokeGrant 50
CreateKey 5 | ImportKeyMaterial 15 | RotateKeyOnDemand 5
DeleteAlias 15 | ListAliases 500 | ScheduleKeyDeletion 15
DeleteCustomKeyStore 5 | ListGrants 100 | TagResource 10
DeleteImportedKeyMaterial 15 | ListKeyPolicies 100 | UntagResource 5
DescribeCustomKeyStores 5 | ListKeys 500 | UpdateAlias 5
DescribeKey 2000 | ListKeyRotations 100 | UpdateCustomKeyStore 5
DisableKey 5 | EnableKey 5 | ListResourceTags 2000 | UpdateKeyDescription 5
DisableKeyRotation 5 | EnableKeyRotation 15 | UpdatePrimaryRegion 5
`;
const EXPECTED_OPERATIONS = new Map(
  MANAGEMENT_TABLE.split(/[|\n]/).map((cell) => cell.trim()).filter(Boolean)
    .map((cell) => { const [op, rps] = cell.split(' '); return [op!, Number(rps)] as const; }),
);
const EXPECTED_DATA_KEY_PAIRS: Record<string, number> = {
  'datakeypair:ECC_NIST_P256': 100, 'datakeypair:ECC_NIST_P384': 100, 'datakeypair:ECC_NIST_P521': 100,
  'datakeypair:ECC_SECG_P256K1': 100, 'datakeypair:ECC_NIST_EDWARDS25519': 100,
  'datakeypair:RSA_2048': 20, 'datakeypair:RSA_3072': 4, 'datakeypair:RSA_4096': 1,
};

const limitsOf = (value: string, region = 'us-east-1') => Object.fromEntries(parseQuotas(value, region).limits);

describe('parseQuotas presets', () => {
  it('none (the default) limits nothing', () => {
    expect(parseQuotas('none', 'us-east-1').limits.size).toBe(0);
  });

  it('aws equals the kms-api.md table: crypto classes, data key pairs, every management operation', () => {
    const expected = {
      symmetric: 10_000, rsa: 1_000, ecc: 1_000, ml_dsa: 1_000,
      ...EXPECTED_DATA_KEY_PAIRS, ...Object.fromEntries(EXPECTED_OPERATIONS),
    };
    expect(EXPECTED_OPERATIONS.size).toBe(40);
    expect(limitsOf('aws', 'sa-east-1')).toEqual(expected);
    expect([...PRESET_OPERATIONS].sort()).toEqual([...EXPECTED_OPERATIONS.keys()].sort());
  });

  it.each([
    ['us-east-1', 100_000], ['us-west-2', 100_000], ['eu-west-1', 100_000],
    ['us-east-2', 20_000], ['ap-southeast-1', 20_000], ['ap-southeast-2', 20_000], ['ap-northeast-1', 20_000],
    ['eu-central-1', 20_000], ['eu-west-2', 20_000],
    ['us-west-1', 10_000], ['eu-north-1', 10_000], ['ca-central-1', 10_000],
  ])('aws symmetric quota in %s is %i', (region, rps) => {
    const limits = parseQuotas('aws', region).limits;
    expect(limits.get('symmetric')).toBe(rps);
    expect(limits.get('rsa')).toBe(1_000);
  });
});

describe('parseQuotas aws preset in China Regions', () => {
  it('limits RSA data key pairs to 1 / 0.5 / 0.1 per second, other specs as elsewhere', () => {
    const { limits } = parseQuotas('aws', 'cn-north-1');
    expect(limits.get('datakeypair:RSA_2048')).toBe(1);
    expect(limits.get('datakeypair:RSA_3072')).toBe(0.5);
    expect(limits.get('datakeypair:RSA_4096')).toBe(0.1);
    expect(limits.get('datakeypair:ECC_NIST_P256')).toBe(100);
    expect(parseQuotas('aws', 'us-east-1').limits.get('datakeypair:RSA_2048')).toBe(20);
  });
});

describe('parseQuotas overrides', () => {
  it('later items win, in both directions', () => {
    expect(limitsOf('aws,ecc=300').ecc).toBe(300);
    expect(limitsOf('ecc=300,aws').ecc).toBe(1_000);
    expect(parseQuotas('aws,none', 'us-east-1').limits.size).toBe(0);
    expect(limitsOf('aws,none,CreateKey=7')).toEqual({ CreateKey: 7 });
  });

  it('accepts every class kind, fractional rates and spaces around items', () => {
    expect(limitsOf(' symmetric=50 , rsa=2,ml_dsa=0.5, datakeypair:RSA_4096=.1 ,CreateKey=5,DisconnectCustomKeyStore=3')).toEqual({
      symmetric: 50, rsa: 2, ml_dsa: 0.5, 'datakeypair:RSA_4096': 0.1, CreateKey: 5, DisconnectCustomKeyStore: 3,
    });
  });

  it('has an ml_kem class and ML-KEM data key pairs, which the aws preset leaves unlimited', () => {
    expect(limitsOf('aws,ml_kem=500,datakeypair:ML_KEM_768=7')).toMatchObject({ ml_kem: 500, 'datakeypair:ML_KEM_768': 7 });
    expect(limitsOf('aws')).not.toHaveProperty('ml_kem');
    expect(limitsOf('aws')).not.toHaveProperty('datakeypair:ML_KEM_768');
  });

  it('accepts every operation name, cryptographic ones too: their own limit on top of the class quota', () => {
    expect(limitsOf('aws,Encrypt=5,GenerateRandom=1,GenerateDataKeyPair=2,Encapsulate=5')).toMatchObject({
      symmetric: 100_000, Encrypt: 5, GenerateRandom: 1, GenerateDataKeyPair: 2, Encapsulate: 5,
    });
    expect(limitsOf('GenerateRandom=1')).toEqual({ GenerateRandom: 1 });
    for (const operation of ['Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'VerifyMac',
      'Sign', 'Verify', 'DeriveSharedSecret', 'Decapsulate', 'GenerateDataKeyPairWithoutPlaintext']) {
      expect(limitsOf(`${operation}=3`)).toEqual({ [operation]: 3 });
    }
  });

  it('accepts every KeyPairSpec of the service model, SM2 included', () => {
    expect(limitsOf('datakeypair:SM2=5')).toEqual({ 'datakeypair:SM2': 5 });
    expect(limitsOf('aws,datakeypair:SM2=25')['datakeypair:SM2']).toBe(25);
  });

  it.each([
    ['fast', 'fast', 'expected a preset'],
    ['aws,,ecc=3', '', 'empty item'],
    ['', '', 'empty item'],
    ['ecc=', 'ecc=', 'RPS must be a positive number'],
    ['aws,ecc=0', 'ecc=0', 'RPS must be a positive number'],
    ['ecc=-1', 'ecc=-1', 'RPS must be a positive number'],
    ['ecc=1e3', 'ecc=1e3', 'RPS must be a positive number'],
    ['ecc=Infinity', 'ecc=Infinity', 'RPS must be a positive number'],
    ['ecc=ten', 'ecc=ten', 'RPS must be a positive number'],
    ['aes=5', 'aes=5', 'unknown quota class'],
    ['createkey=5', 'createkey=5', 'unknown quota class'],
    ['datakeypair:SM3=5', 'datakeypair:SM3=5', 'unknown KeyPairSpec'],
    ['datakeypair:RSA_1024=5', 'datakeypair:RSA_1024=5', 'unknown KeyPairSpec'],
    ['Encrypted=5', 'Encrypted=5', 'unknown quota class'],
    ['none,generaterandom=5', 'generaterandom=5', 'unknown quota class'],
    ['Encrypt=0', 'Encrypt=0', 'RPS must be a positive number'],
  ])('rejects %j: one line naming KMS_QUOTAS and the item %j', (value, badItem, why) => {
    let message = '';
    try { parseQuotas(value, 'us-east-1'); } catch (error) { message = (error as Error).message; }
    expect(message).toContain(`KMS_QUOTAS: bad item "${badItem}"`);
    expect(message).toContain(why);
    expect(message).not.toContain('\n');
  });
});
