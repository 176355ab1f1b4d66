// MQTT topic names: builders, a strict parser, what each topic carries and how it is delivered.
// Every variable segment is validated, so an id can never smuggle in "/", "+" or "#" and a
// gateway's topic cannot name another gateway's subtree.
import { isId } from './identity.js';
import { COMMAND_ACK_TYP, type CommandAck } from './messages/command-ack.js';
import { ENERGY_TYPES, type EnergyType, NAME_PATTERN } from './messages/common.js';
import { CONTRACT_TYP, type SignedContract } from './messages/contract.js';
import { DISPATCH_COMMAND_TYP, type DispatchCommand } from './messages/dispatch-command.js';
import { DISPATCH_RESPONSE_TYP, type DispatchResponse } from './messages/dispatch-response.js';
import { FULFILMENT_TYP, type FulfilmentEvent } from './messages/fulfilment.js';
import { GATEWAY_STATUS_TYP, type GatewayStatus } from './messages/gateway-status.js';
import { HUB_STATUS_TYP, type HubStatus } from './messages/hub-status.js';
import { MARKET_MATCH_TYP } from './messages/market.js';
import { METER_PROOF_TYP, type MeterProof } from './messages/meter-proof.js';
import { PRICE_TYP, type PricePublication } from './messages/price.js';
import { RECEIPT_KIND, type Receipt } from './messages/receipt.js';
import { TELEMETRY_TYP, type TelemetryBatch } from './messages/telemetry.js';

export const TOPIC_ROOT = 'wattproof/v1';

/** Command names: lowercase words joined by "-", at most 32 characters. */
export const COMMAND_NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export type GatewayTopicKind = 'gw-status' | 'gw-proof' | 'gw-event' | 'gw-telemetry' | 'gw-receipt';
export type TopicKind = GatewayTopicKind | 'gw-cmd' | 'gw-cmd-res' | 'hub-status' | 'prices';

export type ParsedTopic =
  | { kind: GatewayTopicKind; gw: string }
  | { kind: 'gw-cmd' | 'gw-cmd-res'; gw: string; command: string }
  | { kind: 'hub-status' }
  | { kind: 'prices'; region: string; energy: EnergyType };

const GATEWAY_LEAVES: Record<string, GatewayTopicKind> = {
  status: 'gw-status',
  proof: 'gw-proof',
  event: 'gw-event',
  telemetry: 'gw-telemetry',
  receipt: 'gw-receipt',
};

function checkGateway(gw: string): string {
  if (!isId(gw, 'gw'))
    throw new Error(`"${gw}" is not a gateway id (gw- followed by 16 characters a-z, 2-7)`);
  return gw;
}

function checkCommand(command: string): string {
  if (command.length > 32 || !COMMAND_NAME_PATTERN.test(command))
    throw new Error(`"${command}" is not a command name (lowercase words joined by "-", ≤ 32 characters)`);
  return command;
}

function checkRegion(region: string): string {
  if (!NAME_PATTERN.test(region))
    throw new Error(`"${region}" is not a region name (1–64 letters, digits, "_", "." or "-")`);
  return region;
}

function checkEnergy(energy: string): EnergyType {
  if (!(ENERGY_TYPES as readonly string[]).includes(energy))
    throw new Error(`"${energy}" is not an energy type (${ENERGY_TYPES.join(', ')})`);
  return energy as EnergyType;
}

const gwBase = (gw: string) => `${TOPIC_ROOT}/gw/${checkGateway(gw)}`;

/** Topic builders. Each throws on an invalid id, name or region. */
export const topics = {
  gatewayStatus: (gw: string) => `${gwBase(gw)}/status`,
  proof: (gw: string) => `${gwBase(gw)}/proof`,
  event: (gw: string) => `${gwBase(gw)}/event`,
  telemetry: (gw: string) => `${gwBase(gw)}/telemetry`,
  receipt: (gw: string) => `${gwBase(gw)}/receipt`,
  command: (gw: string, command: string) => `${gwBase(gw)}/cmd/${checkCommand(command)}`,
  commandResult: (gw: string, command: string) => `${gwBase(gw)}/cmd/${checkCommand(command)}/res`,
  hubStatus: () => `${TOPIC_ROOT}/hub/status`,
  prices: (region: string, energy: EnergyType) =>
    `${TOPIC_ROOT}/prices/${checkRegion(region)}/${checkEnergy(energy)}`,
  /** Build the topic of a parsed topic (the inverse of parseTopic). */
  of(t: ParsedTopic): string {
    switch (t.kind) {
      case 'gw-cmd':
        return topics.command(t.gw, t.command);
      case 'gw-cmd-res':
        return topics.commandResult(t.gw, t.command);
      case 'hub-status':
        return topics.hubStatus();
      case 'prices':
        return topics.prices(t.region, t.energy);
      default:
        return `${gwBase(t.gw)}/${t.kind.slice(3)}`;
    }
  },
} as const;

/** Subscription filters (with MQTT wildcards) for the hub and the gateways. */
export const subscriptions = {
  /** The hub: every gateway's topic of one kind, e.g. all proofs. */
  allGateways: (leaf: 'status' | 'proof' | 'event' | 'telemetry') => `${TOPIC_ROOT}/gw/+/${leaf}`,
  /** The hub: every gateway's command results. */
  allCommandResults: () => `${TOPIC_ROOT}/gw/+/cmd/+/res`,
  /** A gateway: its own commands (and, matching the same filter, their results). */
  commands: (gw: string) => `${gwBase(gw)}/cmd/#`,
  /** A gateway: its own receipts. */
  receipts: (gw: string) => topics.receipt(gw),
  /** Everyone: all prices. */
  allPrices: () => `${TOPIC_ROOT}/prices/#`,
} as const;

export type TopicParse = { ok: true; topic: ParsedTopic } | { ok: false; reason: string };

/** Parses a concrete topic (no wildcards). Anything not exactly one of ours is refused, with why. */
export function parseTopic(topic: string): TopicParse {
  const fail = (reason: string): TopicParse => ({ ok: false, reason });
  if (typeof topic !== 'string') return fail('a topic is a string');
  if (!topic.startsWith(`${TOPIC_ROOT}/`)) return fail(`not under ${TOPIC_ROOT}/`);
  const parts = topic.slice(TOPIC_ROOT.length + 1).split('/');
  const [head, a, b, c, d, ...rest] = parts;
  if (head === 'hub') {
    if (a === 'status' && parts.length === 2) return { ok: true, topic: { kind: 'hub-status' } };
    return fail('the hub topic is hub/status');
  }
  if (head === 'prices') {
    if (parts.length !== 3 || a === undefined || b === undefined)
      return fail('prices topics are prices/{region}/{energy}');
    if (!NAME_PATTERN.test(a)) return fail(`"${a}" is not a region name`);
    if (!(ENERGY_TYPES as readonly string[]).includes(b)) return fail(`"${b}" is not an energy type`);
    return { ok: true, topic: { kind: 'prices', region: a, energy: b as EnergyType } };
  }
  if (head !== 'gw') return fail(`unknown topic family "${head}"`);
  if (a === undefined || !isId(a, 'gw')) return fail(`"${a ?? ''}" is not a gateway id`);
  if (b === undefined) return fail('a gateway topic names what it carries after the id');
  const leaf = GATEWAY_LEAVES[b];
  if (leaf !== undefined) {
    if (parts.length !== 3) return fail(`gw/{id}/${b} has nothing after it`);
    return { ok: true, topic: { kind: leaf, gw: a } };
  }
  if (b !== 'cmd') return fail(`unknown gateway topic "${b}"`);
  if (c === undefined || c.length > 32 || !COMMAND_NAME_PATTERN.test(c))
    return fail(`"${c ?? ''}" is not a command name`);
  if (d === undefined && parts.length === 4)
    return { ok: true, topic: { kind: 'gw-cmd', gw: a, command: c } };
  if (d === 'res' && rest.length === 0) return { ok: true, topic: { kind: 'gw-cmd-res', gw: a, command: c } };
  return fail('command topics are gw/{id}/cmd/{name} and gw/{id}/cmd/{name}/res');
}

// ---------------------------------------------------------------------------------------------
// What each topic carries (like Zigbee2MQTT's typed topic map)

/** The commands the hub sends, by name, and what each carries. */
export interface CommandPayloads {
  dispatch: DispatchCommand;
  /** A signed contract, or the hub-signed market match carrying a market-made one (same form). */
  contract: SignedContract;
}
export type CommandName = keyof CommandPayloads;

/** The payload (decoded message) each topic kind carries. */
export interface TopicPayloads {
  'gw-status': GatewayStatus;
  'gw-proof': MeterProof;
  'gw-event': FulfilmentEvent | DispatchResponse;
  'gw-telemetry': TelemetryBatch;
  'gw-receipt': Receipt;
  'gw-cmd': CommandPayloads[CommandName];
  'gw-cmd-res': CommandAck;
  'hub-status': HubStatus;
  prices: PricePublication;
}

/**
 * How a topic's MQTT payload is encoded: `jws` = the ASCII compact JWS; `json` = a UTF-8 JSON
 * object (unsigned); `jws-json` = a JWS in general JSON serialisation (a signed contract).
 */
export type Encoding = 'jws' | 'json' | 'jws-json';

export interface TopicSpec {
  encoding: Encoding;
  /** The typs accepted on the topic (for `json`, the shape's name). */
  typs: readonly string[];
  qos: 0 | 1;
  retain: boolean;
}

export const TOPIC_SPECS: Record<Exclude<TopicKind, 'gw-cmd'>, TopicSpec> = {
  'gw-status': { encoding: 'jws', typs: [GATEWAY_STATUS_TYP], qos: 1, retain: true },
  'gw-proof': { encoding: 'jws', typs: [METER_PROOF_TYP], qos: 1, retain: false },
  'gw-event': { encoding: 'jws', typs: [FULFILMENT_TYP, DISPATCH_RESPONSE_TYP], qos: 1, retain: false },
  'gw-telemetry': { encoding: 'jws', typs: [TELEMETRY_TYP], qos: 0, retain: false },
  'gw-receipt': { encoding: 'json', typs: [RECEIPT_KIND], qos: 1, retain: false },
  'gw-cmd-res': { encoding: 'jws', typs: [COMMAND_ACK_TYP], qos: 1, retain: false },
  'hub-status': { encoding: 'jws', typs: [HUB_STATUS_TYP], qos: 1, retain: true },
  prices: { encoding: 'jws', typs: [PRICE_TYP], qos: 1, retain: true },
};

export const COMMAND_SPECS: Record<CommandName, TopicSpec> = {
  dispatch: { encoding: 'jws', typs: [DISPATCH_COMMAND_TYP], qos: 1, retain: false },
  /** Both parties' contract signatures, or (a market-made contract) the hub's one market match. */
  contract: { encoding: 'jws-json', typs: [CONTRACT_TYP, MARKET_MATCH_TYP], qos: 1, retain: false },
};

/** What a parsed topic carries; undefined for a command name nobody defined. */
export function specOf(t: ParsedTopic): TopicSpec | undefined {
  if (t.kind === 'gw-cmd')
    return Object.hasOwn(COMMAND_SPECS, t.command) ? COMMAND_SPECS[t.command as CommandName] : undefined;
  return TOPIC_SPECS[t.kind];
}
