// The hub's log key: one Ed25519 key that signs checkpoints and hub-authored ledger entries
// (gateway bindings, gap notes, settlements), in a key file of mode 0600 (hub/key-file.ts).
import { type KeyFileKind, loadKeyFile, loadOrCreateKeyFile } from './key-file.js';

export { KeyFileError as HubKeyError } from './key-file.js';

const HUB_KEY: KeyFileKind = {
  format: 'wattproof-hub-key/1',
  idKind: 'hub',
  idField: 'hubId',
  label: 'hub key',
};

export interface HubKey {
  readonly hubId: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

const asHubKey = (k: { id: string; publicKey: Uint8Array; secretKey: Uint8Array }): HubKey => ({
  hubId: k.id,
  publicKey: k.publicKey,
  secretKey: k.secretKey,
});

/** Loads the key file, or creates it (mode 0600, exclusive create) when it does not exist. */
export function loadOrCreateHubKey(file: string): { key: HubKey; created: boolean } {
  const { key, created } = loadOrCreateKeyFile(file, HUB_KEY);
  return { key: asHubKey(key), created };
}

export function loadHubKey(file: string): HubKey {
  return asHubKey(loadKeyFile(file, HUB_KEY));
}
