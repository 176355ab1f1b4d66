// Shared pieces of the end-to-end tests: a real Mosquitto, the hub (Hub.start) on it, the engine
// composed beside the hub from exported parts with the validator (as hub.ts wires it, see
// docs/hub.md) and its HTTP endpoints on their own Fastify app, a watcher of what gateways are
// sent, and enrolling real agents and waiting until they are online. One stop() tears it all down.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import mqtt from 'mqtt';
import pino from 'pino';
import { expect } from 'vitest';
import { registerEngineApi } from '../../hub/engine/api.js';
import { Engine } from '../../hub/engine/engine.js';
import type { Reviewer } from '../../hub/engine/reviewer.js';
import { loadOrCreateValidatorKey, type ValidatorKey } from '../../hub/engine/validator-key.js';
import type { Hub } from '../../hub/hub.js';
import { parsePolicy } from '../../hub/validator/policy.js';
import { Validator } from '../../hub/validator/validator.js';
import { b64url, decodeJwsUnverified } from '../../protocol/index.js';
import { topics } from '../../protocol/topics.js';
import { type startAgentCli, waitFor } from './agent-cli.js';
import { type Gateway, setUpGateway } from './agent-harness.js';
import { type PostJson, participantsWithCredit, postJsonTo } from './contract-fixtures.js';
import { createToken, OPERATOR_TOKEN, postEnroll, startTestHub } from './hub-fixtures.js';
import { type RunningMosquitto, startMosquitto } from './mosquitto.js';

/** The hub's (and the engine's) login on the test's Mosquitto. */
export const HUB_MQTT = { username: 'hub', password: 'hub-password-0123456789' };

export type RunningAgent = ReturnType<typeof startAgentCli>;
export type Cleanup = () => Promise<unknown> | unknown;

export interface WatchedMessage {
  topic: string;
  payload: string;
}

export interface HubWithEngine {
  broker: RunningMosquitto;
  hub: Hub;
  /** The hub's data dir (the validator key lies here too). */
  dir: string;
  engine: Engine;
  /** The engine's own MQTT client (with the hub's login). */
  engineClient: mqtt.MqttClient;
  /** The engine's HTTP endpoints. */
  httpUrl: string;
  /** POSTs JSON to the engine's endpoints. */
  post: PostJson;
  /** What the watcher saw on its topics, in order. */
  received: WatchedMessage[];
  /** The agents started on this hub; stop() kills them first. */
  agents: RunningAgent[];
  /** Runs `cleanup` at stop(), after the engine stops and before the hub does (last deferred first). */
  defer(cleanup: Cleanup): void;
  stop(): Promise<void>;
}

/** Per energy a household may trade: the largest capacity it may register and the price cap. */
export type HouseholdTerms = Record<string, { maxCapacityW: number; capMinorPerKWh: number }>;

/**
 * A Validator in EUR, signing with the key, whose policy `name` registers households in region
 * north (any grid node) for these energies and reviews contracts at prices from 0 to the cap, with
 * no lead time.
 */
export function householdValidator(name: string, energies: HouseholdTerms): (key: ValidatorKey) => Reviewer {
  const each = <T>(f: (t: HouseholdTerms[string]) => T) =>
    Object.fromEntries(Object.entries(energies).map(([energy, t]) => [energy, f(t)]));
  const policy = parsePolicy({
    version: 1,
    name,
    registration: {
      regions: { north: { gridNodes: 'any' } },
      roles: { household: { energies: each((t) => ({ maxCapacityW: t.maxCapacityW })) } },
    },
    contracts: {
      prices: each((t) => ({ floorMinorPerKWh: 0, capMinorPerKWh: t.capMinorPerKWh })),
      leadTimeMs: 0,
    },
  });
  return (key) => new Validator({ secretKey: key.secretKey, currency: 'EUR', policy });
}

/**
 * Mosquitto, the hub on it, and the engine beside the hub on `clock` with the reviewer made from
 * the validator key in the hub's data dir (settlement grace 2 minutes, a tick every 100 ms), its
 * endpoints on a free port, and a watcher subscribed to `watch` as `watcherId`. What started is
 * stopped again if a later part fails to start.
 */
export async function startHubWithEngine(o: {
  clock: () => number;
  reviewer: (key: ValidatorKey) => Reviewer;
  watcherId: string;
  watch: string[];
}): Promise<HubWithEngine> {
  const cleanups: Cleanup[] = [];
  const agents: RunningAgent[] = [];
  const received: WatchedMessage[] = [];
  let engine: Engine | undefined;
  let engineClient: mqtt.MqttClient | undefined;
  let hub: Hub | undefined;
  let broker: RunningMosquitto | undefined;
  const stop = async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    engine?.stop();
    for (const c of cleanups.reverse()) await c();
    await engineClient?.endAsync(true);
    await hub?.stop();
    await broker?.stop();
  };
  try {
    broker = await startMosquitto({ extraConfig: ['set_tcp_nodelay true'] });
    const started = await startTestHub({
      broker: { kind: 'external', url: broker.url, ...HUB_MQTT },
      checkpointIntervalMs: 50,
      gapWaitMs: 5_000,
    });
    hub = started.hub;
    const theHub = hub;
    const client = await mqtt.connectAsync(broker.url, {
      ...HUB_MQTT,
      clientId: `engine-${hub.key.hubId}`,
      protocolVersion: 4,
    });
    engineClient = client;
    const { key: validatorKey } = loadOrCreateValidatorKey(path.join(started.dir, 'validator.key'));
    engine = new Engine({
      ledger: hub.ledger,
      hubKey: hub.key,
      reviewer: o.reviewer(validatorKey),
      config: { currency: 'EUR', settlementGraceMs: 2 * 60_000, tickMs: 100 },
      clock: o.clock,
      publish: (topic, payload, p) => client.publish(topic, payload, { qos: p.qos, retain: p.retain }),
      log: pino({ level: 'silent' }),
      afterAppend: () => theHub.checkpointer.afterCommit(),
    });
    engine.start();
    // The engine's endpoints on their own Fastify app here (hub.ts registers them on the API's app).
    const app = Fastify();
    await registerEngineApi(app, { engine, operatorToken: OPERATOR_TOKEN });
    const httpUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    // Watch what gateways are sent.
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: o.watcherId });
    watcher.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }));
    await watcher.subscribeAsync(o.watch, { qos: 1 });
    cleanups.push(() => watcher.endAsync(true));
    return {
      broker,
      hub,
      dir: started.dir,
      engine,
      engineClient: client,
      httpUrl,
      post: postJsonTo(httpUrl),
      received,
      agents,
      defer: (cleanup) => cleanups.push(cleanup),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A gateway (agent-harness) on this hub's broker for the grid meter of the home simulated on `simPort`. */
export function gridGateway(
  world: HubWithEngine,
  simPort: number,
  time: { scale: number; origin: number },
): Gateway {
  return setUpGateway({ brokerUrl: world.broker.url, simPort, ...time, devices: ['grid'] });
}

/** Whether the watcher saw this gateway's signed status saying it is online. */
export function sawOnline(received: readonly WatchedMessage[], gatewayId: string): boolean {
  return received.some(
    (m) =>
      m.topic === topics.gatewayStatus(gatewayId) &&
      (decodeJwsUnverified(m.payload)?.payload as { state?: string } | undefined)?.state === 'online',
  );
}

/** Enrols a gateway key at the hub (a fresh token for site `home`); answers the gateway id. */
export async function enrolGateway(hubHttpUrl: string, publicKey: Uint8Array): Promise<string> {
  const token = await createToken(hubHttpUrl, 'home');
  const res = await postEnroll(hubHttpUrl, { token, publicKey: b64url.encode(publicKey) });
  expect(res.status).toBe(201);
  return (res.body as { gatewayId: string }).gatewayId;
}

export interface AgentToRun {
  identity: { gatewayId: string; publicKey: Uint8Array };
  /** The file whose presence tells the agent its clock is synchronised. */
  syncFile: string;
  start(): RunningAgent;
}

/**
 * Enrols each gateway, marks its clock synchronised, starts its agent and waits (up to
 * `timeoutMs`) until the watcher saw every one online: contracts are commands (QoS 1, not
 * retained), so a gateway gets them only once its session holds the subscription, which its
 * first connection makes just before it publishes its birth status. A timeout names the wait and
 * shows the end of each agent's output. Answers the agents (also kept in `world.agents`).
 */
export async function enrolAndWaitOnline(
  world: HubWithEngine,
  gateways: readonly AgentToRun[],
  timeoutMs: number,
): Promise<RunningAgent[]> {
  for (const gw of gateways) {
    expect(await enrolGateway(world.hub.httpUrl, gw.identity.publicKey)).toBe(gw.identity.gatewayId);
    writeFileSync(gw.syncFile, '');
  }
  const agents = gateways.map((gw) => gw.start());
  world.agents.push(...agents);
  const what = gateways.length === 2 ? 'both agents online' : `${gateways.length} agents online`;
  await waitFor(
    () => gateways.every((gw) => sawOnline(world.received, gw.identity.gatewayId)),
    what,
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${agents.map((a) => a.output().slice(-3000)).join('\n---\n')}`);
  });
  return agents;
}

/**
 * Each member applies and is credited by the operator (participantsWithCredit, through the
 * engine's endpoints); then waits (up to 10 s) until the validator approved them all.
 */
export async function fundAndApprove(
  world: HubWithEngine,
  members: Parameters<typeof participantsWithCredit>[1],
  terms: Parameters<typeof participantsWithCredit>[2],
): Promise<void> {
  await participantsWithCredit(world.post, members, terms);
  await waitFor(
    () =>
      members.every((m) => world.engine.ledgerState.registry.participants[m.party.id]?.status === 'approved'),
    members.length === 2 ? 'both registrations approved' : `${members.length} registrations approved`,
    10_000,
  );
}
