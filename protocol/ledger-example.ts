// A small, complete example ledger built from the example keys: bindings, chained proofs and
// events, a gap filled late, a contract signed by both parties, a validator decision and a hub
// dispatch command, with checkpoints. The export tests, the CLI tests and the test vectors use it;
// docs/ledger.md shows it. Deterministic: the same bytes every time.

import { utf8 } from './bytes.js';
import { messageHashB64 } from './chain.js';
import { noteVerifierKey, signCheckpoint } from './checkpoint.js';
import { signJws } from './jws.js';
import { formatCheckpoints, formatEntries, formatKeysFile, type LedgerExportFiles } from './ledger-export.js';
import { leafHash, MerkleAccumulator } from './merkle.js';
import { contractCompacts, contractIdOf, signContract } from './messages/contract.js';
import {
  EXAMPLE_KEYS,
  exampleDispatchCommand,
  exampleDispatchResponse,
  exampleEnergyContract,
  exampleFulfilment,
  exampleGapNote,
  exampleGatewayBinding,
  exampleMeterProof,
  exampleValidatorDecision,
} from './messages/examples.js';
import {
  DISPATCH_COMMAND_TYP,
  DISPATCH_RESPONSE_TYP,
  FULFILMENT_TYP,
  GAP_NOTE_TYP,
  GATEWAY_BINDING_TYP,
  METER_PROOF_TYP,
  signMessage,
  VALIDATOR_DECISION_TYP,
} from './messages/index.js';

export const EXAMPLE_ORIGIN = 'example.wattproof.org/ledger';
const K = EXAMPLE_KEYS;

export interface ExampleLedger {
  leaves: string[];
  /** Signed checkpoints, in increasing size. */
  checkpoints: string[];
  vkey: string;
  files: LedgerExportFiles;
}

/** Signs a checkpoint of the first `size` leaves with the example hub key. */
export function exampleCheckpoint(leaves: readonly string[], size: number): string {
  const acc = new MerkleAccumulator();
  for (const leaf of leaves.slice(0, size)) acc.append(leafHash(utf8(leaf)));
  return signCheckpoint(
    { origin: EXAMPLE_ORIGIN, size, root: acc.root() },
    EXAMPLE_ORIGIN,
    K.hub.secretKey,
    K.hub.publicKey,
  );
}

export function buildExampleLedger(checkpointSizes: readonly number[] = [4, 10, 14]): ExampleLedger {
  const leaves: string[] = [];
  const hub = (typ: Parameters<typeof signMessage>[0], payload: unknown) =>
    leaves.push(signMessage(typ, K.hub.id, payload as never, K.hub.secretKey));
  const gwA: string[] = [];
  const a = (typ: Parameters<typeof signMessage>[0], payload: unknown) => {
    const jws = signMessage(typ, K.gatewayA.id, payload as never, K.gatewayA.secretKey);
    gwA.push(jws);
    leaves.push(jws);
    return jws;
  };
  const prevA = () => messageHashB64(gwA[gwA.length - 1] as string);

  hub(GATEWAY_BINDING_TYP, exampleGatewayBinding(K.gatewayA)); // 0
  hub(GATEWAY_BINDING_TYP, { ...exampleGatewayBinding(K.gatewayB), participant: K.buyer.id }); // 1
  const p0 = a(METER_PROOF_TYP, exampleMeterProof(0, null)); // 2
  const p1 = a(METER_PROOF_TYP, exampleMeterProof(1, prevA())); // 3
  const signed = signContract(
    signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey),
    K.buyer.id,
    K.buyer.secretKey,
  );
  leaves.push(...contractCompacts(signed)); // 4, 5
  const ct = contractIdOf(signed);
  leaves.push(
    signMessage(VALIDATOR_DECISION_TYP, K.validator.id, exampleValidatorDecision(ct), K.validator.secretKey),
  ); // 6
  const p2 = a(METER_PROOF_TYP, exampleMeterProof(2, prevA())); // 7
  // Gateway B's seq 0 is late: the hub notes the gap, appends seq 1, then seq 0 when it arrives.
  const b = (payload: object) =>
    signMessage(METER_PROOF_TYP, K.gatewayB.id, payload as never, K.gatewayB.secretKey);
  const b0 = b({ ...exampleMeterProof(0, null), gw: K.gatewayB.id });
  const b1 = b({ ...exampleMeterProof(1, messageHashB64(b0)), gw: K.gatewayB.id });
  hub(GAP_NOTE_TYP, { ...exampleGapNote(0, 0), gw: K.gatewayB.id }); // 8
  leaves.push(b1, b0); // 9, 10
  const cmd = signMessage(DISPATCH_COMMAND_TYP, K.hub.id, exampleDispatchCommand(ct), K.hub.secretKey);
  leaves.push(cmd); // 11
  a(DISPATCH_RESPONSE_TYP, exampleDispatchResponse(3, prevA(), messageHashB64(cmd), ct)); // 12
  a(FULFILMENT_TYP, exampleFulfilment(4, prevA(), ct, [p0, p1, p2].map(messageHashB64))); // 13

  const checkpoints = checkpointSizes.map((size) => exampleCheckpoint(leaves, size));
  const vkey = noteVerifierKey(EXAMPLE_ORIGIN, K.hub.publicKey);
  const keys = formatKeysFile(
    { origin: EXAMPLE_ORIGIN, hub: K.hub.id, vkey },
    {
      [K.hub.id]: K.hub.publicKey,
      [K.validator.id]: K.validator.publicKey,
      [K.seller.id]: K.seller.publicKey,
      [K.buyer.id]: K.buyer.publicKey,
      [K.gatewayA.id]: K.gatewayA.publicKey,
      [K.gatewayB.id]: K.gatewayB.publicKey,
    },
  );
  return {
    leaves,
    checkpoints,
    vkey,
    files: { entries: formatEntries(leaves), checkpoints: formatCheckpoints(checkpoints), keys },
  };
}

/** Re-signs a leaf list as the example log would (for tests that build other logs). */
export function signAsExampleHub(typ: string, payload: unknown): string {
  return signJws(typ, K.hub.id, payload, K.hub.secretKey);
}
