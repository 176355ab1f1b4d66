import { describe, expect, it } from 'vitest';
import { EXAMPLE_KEYS } from './messages/examples.js';
import { CONTRACT_TYP, DISPATCH_COMMAND_TYP, MARKET_MATCH_TYP, METER_PROOF_TYP } from './messages/index.js';
import { type ParsedTopic, parseTopic, specOf, subscriptions, TOPIC_SPECS, topics } from './topics.js';

const gw = EXAMPLE_KEYS.gatewayA.id;

describe('topics', () => {
  it('builds every topic of the table', () => {
    expect(topics.gatewayStatus(gw)).toBe(`wattproof/v1/gw/${gw}/status`);
    expect(topics.proof(gw)).toBe(`wattproof/v1/gw/${gw}/proof`);
    expect(topics.event(gw)).toBe(`wattproof/v1/gw/${gw}/event`);
    expect(topics.telemetry(gw)).toBe(`wattproof/v1/gw/${gw}/telemetry`);
    expect(topics.receipt(gw)).toBe(`wattproof/v1/gw/${gw}/receipt`);
    expect(topics.command(gw, 'dispatch')).toBe(`wattproof/v1/gw/${gw}/cmd/dispatch`);
    expect(topics.commandResult(gw, 'dispatch')).toBe(`wattproof/v1/gw/${gw}/cmd/dispatch/res`);
    expect(topics.hubStatus()).toBe('wattproof/v1/hub/status');
    expect(topics.prices('north', 'heat')).toBe('wattproof/v1/prices/north/heat');
    expect(subscriptions.allGateways('proof')).toBe('wattproof/v1/gw/+/proof');
    expect(subscriptions.allCommandResults()).toBe('wattproof/v1/gw/+/cmd/+/res');
    expect(subscriptions.commands(gw)).toBe(`wattproof/v1/gw/${gw}/cmd/#`);
    expect(subscriptions.receipts(gw)).toBe(topics.receipt(gw));
    expect(subscriptions.allPrices()).toBe('wattproof/v1/prices/#');
  });

  it('refuses ids, names and regions that could escape their segment', () => {
    for (const bad of ['+', '#', 'gw-aaaaaaaaaaaaaaaa/x', 'gw-AAAAAAAAAAAAAAAA', 'pt-aaaaaaaaaaaaaaaa', ''])
      expect(() => topics.proof(bad)).toThrow(/not a gateway id/);
    for (const bad of ['a/b', '+', 'Dispatch', 'x'.repeat(33), ''])
      expect(() => topics.command(gw, bad)).toThrow(/not a command name/);
    expect(() => topics.prices('a/b', 'gas')).toThrow(/not a region name/);
    expect(() => topics.prices('north', 'steam' as never)).toThrow(/not an energy type/);
  });

  it('parses exactly what it builds, and round-trips', () => {
    const all: ParsedTopic[] = [
      { kind: 'gw-status', gw },
      { kind: 'gw-proof', gw },
      { kind: 'gw-event', gw },
      { kind: 'gw-telemetry', gw },
      { kind: 'gw-receipt', gw },
      { kind: 'gw-cmd', gw, command: 'dispatch' },
      { kind: 'gw-cmd-res', gw, command: 'contract' },
      { kind: 'hub-status' },
      { kind: 'prices', region: 'north', energy: 'gas' },
    ];
    for (const t of all) expect(parseTopic(topics.of(t))).toEqual({ ok: true, topic: t });
  });

  it('refuses everything else with a reason', () => {
    const bad = [
      'wattproof/v2/hub/status',
      'wattproof/v1',
      'wattproof/v1/hub/status/x',
      'wattproof/v1/hub',
      'wattproof/v1/prices/north',
      'wattproof/v1/prices/no+rth/gas',
      'wattproof/v1/prices/north/steam',
      'wattproof/v1/other/x',
      'wattproof/v1/gw/+/proof',
      'wattproof/v1/gw/#',
      `wattproof/v1/gw/${gw}`,
      `wattproof/v1/gw/${gw}/proof/x`,
      `wattproof/v1/gw/${gw}/secret`,
      `wattproof/v1/gw/${gw}/cmd`,
      `wattproof/v1/gw/${gw}/cmd/+`,
      `wattproof/v1/gw/${gw}/cmd/dispatch/ack`,
      `wattproof/v1/gw/${gw}/cmd/dispatch/res/x`,
    ];
    for (const t of bad) {
      const r = parseTopic(t);
      expect(r.ok, t).toBe(false);
      expect(!r.ok && r.reason.length).toBeGreaterThan(5);
    }
    expect(parseTopic(42 as never)).toEqual({ ok: false, reason: 'a topic is a string' });
  });

  it('says what each topic carries and how it is delivered', () => {
    expect(specOf({ kind: 'gw-proof', gw })).toEqual({
      encoding: 'jws',
      typs: [METER_PROOF_TYP],
      qos: 1,
      retain: false,
    });
    expect(specOf({ kind: 'gw-cmd', gw, command: 'dispatch' })?.typs).toEqual([DISPATCH_COMMAND_TYP]);
    expect(specOf({ kind: 'gw-cmd', gw, command: 'contract' })?.encoding).toBe('jws-json');
    // A market-made contract comes as the hub-signed market match that carries it.
    expect(specOf({ kind: 'gw-cmd', gw, command: 'contract' })?.typs).toEqual([
      CONTRACT_TYP,
      MARKET_MATCH_TYP,
    ]);
    expect(specOf({ kind: 'gw-cmd', gw, command: 'reboot' })).toBeUndefined();
    expect(TOPIC_SPECS['gw-telemetry'].qos).toBe(0);
    expect(TOPIC_SPECS['gw-status'].retain).toBe(true);
    expect(TOPIC_SPECS['gw-receipt'].encoding).toBe('json');
  });
});
