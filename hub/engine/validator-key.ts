// The validator's signing key, held by the hub's engine when the validator runs in the hub's
// process: one Ed25519 key in a JSON file of mode 0600 (the dashboard's validator key format),
// created on first start. Its id `val-…` is what the fold's FoldConfig.validatorKids trusts.
import { deriveId, publicKeyOf } from '../../protocol/index.js';
import { type KeyFileKind, loadKeyFile, loadOrCreateKeyFile } from '../key-file.js';

export { KeyFileError as ValidatorKeyError } from '../key-file.js';

export const VALIDATOR_KEY_FORMAT = 'wattproof-validator-key/1';

export interface ValidatorKey {
  readonly kid: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** The validator key's file name in the hub's data folder. */
export const VALIDATOR_KEY_FILE = 'validator.key';

export function validatorKeyOf(secretKey: Uint8Array): ValidatorKey {
  const publicKey = publicKeyOf(secretKey);
  return { kid: deriveId('val', publicKey), publicKey, secretKey };
}

const VALIDATOR_KEY: KeyFileKind = {
  format: VALIDATOR_KEY_FORMAT,
  idKind: 'val',
  idField: 'kid',
  label: 'validator key',
};

const asValidatorKey = (k: { id: string; publicKey: Uint8Array; secretKey: Uint8Array }): ValidatorKey => ({
  kid: k.id,
  publicKey: k.publicKey,
  secretKey: k.secretKey,
});

/** Loads the key file, or creates it (mode 0600, exclusive create) when it does not exist. */
export function loadOrCreateValidatorKey(file: string): { key: ValidatorKey; created: boolean } {
  const { key, created } = loadOrCreateKeyFile(file, VALIDATOR_KEY);
  return { key: asValidatorKey(key), created };
}

export function loadValidatorKey(file: string): ValidatorKey {
  return asValidatorKey(loadKeyFile(file, VALIDATOR_KEY));
}
