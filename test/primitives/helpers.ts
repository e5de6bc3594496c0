// Shared fixtures: one generated key of every non-symmetric spec per test run (RSA via generateMaterial).
import { KEY_SPECS, type KeySpec } from '../../src/contract/key-specs.js';
import { generateMaterial, loadKey, type LoadedKey, PrimitiveError } from '../../workers/primitives/index.js';

export const ASYMMETRIC_SIGNING_SPECS = (Object.keys(KEY_SPECS) as KeySpec[])
  .filter((spec) => KEY_SPECS[spec].signingAlgorithms && spec !== 'SYMMETRIC_DEFAULT');

export interface Fixture { spec: KeySpec; material: Buffer; publicKey: Buffer; key: LoadedKey }

export async function fixture(spec: KeySpec): Promise<Fixture> {
  const { material, publicKey } = await generateMaterial(spec);
  return { spec, material, publicKey: publicKey!, key: loadKey(spec, material) };
}

/** The PrimitiveError code a call throws, or 'no error'. */
export function codeOf(call: () => unknown): string {
  try {
    call();
    return 'no error';
  } catch (error) {
    if (error instanceof PrimitiveError) return error.code;
    throw error;
  }
}
