// A market-made energy contract reaching a running agent: the hub sends it on gw/{id}/cmd/contract
// as its signed market-match entry (one signature, no party's), through a real Mosquitto, to the
// agent (in process) with its real uplink and outbox. The agent checks the match with the hub key
// it has from enrolment, watches the contract, and — its window already closed, no grace — signs a
// fulfilment event for it into the outbox. A match signed by another key is refused and nothing is
// watched or signed for it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { systemClock } from '../agent/clock.js';
import { parseAgentConfig } from '../agent/config.js';
import { createIdentity } from '../agent/identity.js';
import { Outbox } from '../agent/outbox.js';
import { Uplink } from '../agent/uplink.js';
import { b64url, decodeJwsUnverified, signJws } from '../protocol/index.js';
import { exampleEnergyContract, exampleKey } from '../protocol/messages/examples.js';
import {
  contractIdOf,
  contractPayloadSegment,
  type EnergyContract,
  FULFILMENT_TYP,
  type FulfilmentEvent,
  MARKET_MATCH_TYP,
  signedContractFromCompacts,
} from '../protocol/messages/index.js';
import { topics } from '../protocol/topics.js';
import { waitFor } from './support/agent-cli.js';
import { type RunningMosquitto, startMosquitto } from './support/mosquitto.js';

const HUB = exampleKey('hub', 'hub');
const OTHER = exampleKey('not-the-hub', 'hub');
const Q = 900_000;

/** The hub's market-match entry for `contract`, in the general serialisation it is sent in. */
function matchText(contract: EnergyContract, signer = HUB): string {
  const hash = b64url.encode(new Uint8Array(32));
  const match = {
    mode: 'auction',
    offer: hash,
    bid: hash,
    quantity: contract.quantity.wh,
    priceMinor: contract.priceMinorPerKWh,
    contractId: contractIdOf(contractPayloadSegment(contract)),
    contract,
    at: contract.window.start - Q,
  };
  return JSON.stringify(
    signedContractFromCompacts([signJws(MARKET_MATCH_TYP, signer.id, match, signer.secretKey)]),
  );
}

describe('a market-made energy contract reaches a running agent', () => {
  let broker: RunningMosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('is checked with the hub key, watched, and gets a fulfilment event; another signer is refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-market-contract-'));
    const config = parseAgentConfig(
      [
        `gateway: {stateDir: ${dir}, settlementMinutes: 15}`,
        `hub: {url: '${broker.url}'}`,
        'devices: []',
        'telemetry: {enabled: false}',
        '',
      ].join('\n'),
    );
    const identity = createIdentity(dir);
    const outbox = new Outbox(path.join(dir, 'outbox.sqlite'), identity);
    const log = pino({ level: 'silent' });
    const agent = new Agent({
      config,
      identity,
      clock: systemClock,
      clockSync: async () => true,
      sources: [],
      outbox,
      log,
      version: 'test',
      configHash: 'A'.repeat(43),
      hubKey: () => ({ hubId: HUB.id, publicKey: HUB.publicKey }),
      contractWatch: { graceMs: 0, recheckMs: 500 },
      uplink: (statusJws, onContract) =>
        new Uplink({
          hub: config.hub,
          credentials: {},
          gatewayId: identity.gatewayId,
          outbox,
          log,
          statusJws,
          now: () => Date.now(),
          onContract,
        }),
    });
    // A contract this gateway meters as the seller, its window closed an hour ago.
    const end = Math.floor(Date.now() / Q) * Q - 4 * Q;
    const base = exampleEnergyContract();
    const contract: EnergyContract = {
      ...base,
      window: { start: end - 4 * Q, end },
      createdAt: end - 8 * Q,
      deliveryPoints: { ...base.deliveryPoints, seller: [{ gw: identity.gatewayId, meter: 'grid' }] },
    };
    const id = contractIdOf(contractPayloadSegment(contract));
    const forged = { ...contract, nonce: 'Zm9yZ2VkLWJ5LWFub3RoZXIta2V5' };
    const client = await mqtt.connectAsync(broker.url);
    await agent.start();
    try {
      await waitFor(() => agent.status.broker?.connected === true, 'the agent connected', 10_000, 20);
      const topic = topics.command(identity.gatewayId, 'contract');
      await client.publishAsync(topic, matchText(forged, OTHER), { qos: 1 });
      await client.publishAsync(topic, matchText(contract), { qos: 1 });
      await waitFor(() => agent.status.contracts.eventsSigned >= 1, 'a fulfilment event', 10_000, 20);
      expect(agent.status.contracts).toMatchObject({ watching: 1, received: 2, refused: 1, eventsSigned: 1 });
      const events = outbox
        .pending(-1, 100)
        .map((r) => decodeJwsUnverified(r.jws))
        .filter((d) => d?.header.typ === FULFILMENT_TYP)
        .map((d) => d?.payload as FulfilmentEvent);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ contract: id, role: 'seller', gw: identity.gatewayId });
    } finally {
      await client.endAsync();
      await agent.stop();
      outbox.close();
    }
  });
});
