// The static registry: every operation the engine serves, typed exhaustively. An X-Amz-Target naming an
// operation not listed here is UnknownOperationException (model operations outside the engine's scope, such as
// custom key stores, answer UnsupportedOperationException through `unsupported`).
import { CUSTOM_KEY_STORE_NOT_FOUND_MESSAGE } from '../contract/errors.js';
import { KmsError } from '../protocol/errors.js';
import { createAlias, deleteAlias, listAliases, updateAlias } from './aliases.js';
import { createKey } from './create-key.js';
import {
  generateDataKey, generateDataKeyPair, generateDataKeyPairWithoutPlaintext, generateDataKeyWithoutPlaintext,
} from './data-keys.js';
import { decrypt } from './decrypt.js';
import { decapsulate, encapsulate } from './encapsulation.js';
import { encrypt } from './encrypt.js';
import { generateRandom } from './generate-random.js';
import { deleteImportedKeyMaterial, getParametersForImport, importKeyMaterial } from './import.js';
import { createGrant, listGrants, listRetirableGrants, retireGrant, revokeGrant } from './grants.js';
import { getKeyPolicy, listKeyPolicies, putKeyPolicy } from './key-policy.js';
import { getKeyLastUsage } from './key-usage.js';
import {
  cancelKeyDeletion, describeKey, disableKey, enableKey, listKeys, scheduleKeyDeletion, updateKeyDescription,
} from './keys.js';
import { generateMac, verifyMac } from './mac.js';
import { replicateKey, updatePrimaryRegion } from './multi-region.js';
import { deriveSharedSecret, getPublicKey } from './public-keys.js';
import { reEncrypt } from './re-encrypt.js';
import {
  disableKeyRotation, enableKeyRotation, getKeyRotationStatus, listKeyRotations, rotateKeyOnDemand,
} from './rotation.js';
import { sign, verify } from './sign-verify.js';
import { listResourceTags, tagResource, untagResource } from './tags.js';
import type { Operation } from './types.js';

// readOnly is the audit record's flag for the API, whether or not the engine serves it: creating, connecting,
// updating or deleting a custom key store is a mutation (kms-api.md section 10), refused or not.
const unsupported = (message: string, readOnly: boolean): Operation => ({
  readOnly,
  async run() {
    throw new KmsError('UnsupportedOperationException', message);
  },
});

const customKeyStores = unsupported('Custom key stores are not supported by this engine.', false);

/** There are none, so the listing is empty and any store asked for by id or name is not found. */
const describeCustomKeyStores: Operation = {
  readOnly: true,
  async run(input, ctx) {
    await ctx.authorizeAccount('kms:DescribeCustomKeyStores');
    if (input.CustomKeyStoreId !== undefined || input.CustomKeyStoreName !== undefined) {
      throw new KmsError('CustomKeyStoreNotFoundException', CUSTOM_KEY_STORE_NOT_FOUND_MESSAGE);
    }
    return { CustomKeyStores: [], Truncated: false };
  },
};

export const OPERATIONS = {
  CancelKeyDeletion: cancelKeyDeletion,
  ConnectCustomKeyStore: customKeyStores,
  CreateAlias: createAlias,
  CreateCustomKeyStore: customKeyStores,
  CreateGrant: createGrant,
  CreateKey: createKey,
  Decrypt: decrypt,
  DeleteAlias: deleteAlias,
  DeleteCustomKeyStore: customKeyStores,
  DeleteImportedKeyMaterial: deleteImportedKeyMaterial,
  DeriveSharedSecret: deriveSharedSecret,
  Decapsulate: decapsulate,
  DescribeCustomKeyStores: describeCustomKeyStores,
  DescribeKey: describeKey,
  DisableKey: disableKey,
  DisableKeyRotation: disableKeyRotation,
  DisconnectCustomKeyStore: customKeyStores,
  EnableKey: enableKey,
  EnableKeyRotation: enableKeyRotation,
  Encapsulate: encapsulate,
  Encrypt: encrypt,
  GenerateDataKey: generateDataKey,
  GenerateDataKeyPair: generateDataKeyPair,
  GenerateDataKeyPairWithoutPlaintext: generateDataKeyPairWithoutPlaintext,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  GenerateMac: generateMac,
  GenerateRandom: generateRandom,
  GetKeyLastUsage: getKeyLastUsage,
  GetKeyPolicy: getKeyPolicy,
  GetKeyRotationStatus: getKeyRotationStatus,
  GetParametersForImport: getParametersForImport,
  GetPublicKey: getPublicKey,
  ImportKeyMaterial: importKeyMaterial,
  ListAliases: listAliases,
  ListGrants: listGrants,
  ListKeyPolicies: listKeyPolicies,
  ListKeyRotations: listKeyRotations,
  ListKeys: listKeys,
  ListResourceTags: listResourceTags,
  ListRetirableGrants: listRetirableGrants,
  PutKeyPolicy: putKeyPolicy,
  ReEncrypt: reEncrypt,
  ReplicateKey: replicateKey,
  RetireGrant: retireGrant,
  RevokeGrant: revokeGrant,
  RotateKeyOnDemand: rotateKeyOnDemand,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  Sign: sign,
  TagResource: tagResource,
  UntagResource: untagResource,
  UpdateAlias: updateAlias,
  UpdateCustomKeyStore: customKeyStores,
  UpdateKeyDescription: updateKeyDescription,
  UpdatePrimaryRegion: updatePrimaryRegion,
  Verify: verify,
  VerifyMac: verifyMac,
} as const satisfies Record<string, Operation>;

export type OperationName = keyof typeof OPERATIONS;

export const operationNamed = (name: string): Operation | undefined =>
  Object.hasOwn(OPERATIONS, name) ? OPERATIONS[name as OperationName] : undefined;
