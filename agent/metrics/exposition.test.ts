import { describe, expect, it } from 'vitest';
import type { AgentStatus } from '../agent.js';
import { escapeLabel, renderMetrics } from './exposition.js';
import { PollCounter } from './poll-counter.js';
import { parseListen } from './server.js';

const status = (over: Partial<AgentStatus> = {}): AgentStatus => ({
  gatewayId: 'gw_abc',
  version: '1.2.3',
  pid: 1,
  updatedAt: 0,
  running: true,
  eventLoopDelayMaxMs: 25,
  storageError: null,
  clock: { synchronised: true, lastJumpAt: null },
  broker: { url: 'mqtt://h', connected: true, connects: 2, lastConnectedAt: 0, lastError: null },
  outbox: { pending: 7, oldestSeq: 3, oldestCreatedAt: 10_000, rejected: 1, headSeq: 9 },
  lastReceipt: { seq: 2, index: 40, leafHash: 'x', status: 'appended', at: 55_000 },
  telemetry: { buffered: 4, dropped: 0, sent: 12 },
  contracts: { watching: 1, received: 1, refused: 0, eventsSigned: 2 },
  devices: [
    {
      name: 'grid',
      role: 'grid',
      health: 'unreachable',
      lastError: 'timeout',
      lastReading: { at: 50_000, importWh: 1, exportWh: 2, powerW: 3 },
      openInterval: null,
      proofs: 5,
      skippedIntervals: 1,
    },
  ],
  ...over,
});

/** name{labels} → value, from the text format. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

describe('agent metrics exposition', () => {
  it('writes the outbox depth, receipt age, poll errors, health, clock and MQTT state', async () => {
    const polls = new PollCounter();
    const failing = polls.wrap({
      name: 'grid',
      describe: async () => ({ manufacturer: 'm', model: 'x', serial: 's' }) as never,
      read: async () => {
        throw new Error('timeout');
      },
      health: () => undefined,
    });
    await expect(failing.read()).rejects.toThrow('timeout');
    await failing.describe();
    const text = renderMetrics({ status: status(), polls: polls.counts, now: 60_000, rssBytes: 1234 });
    const s = samples(text);
    expect(s.get('wattproof_agent_outbox_pending')).toBe(7);
    expect(s.get('wattproof_agent_outbox_oldest_age_seconds')).toBe(50);
    expect(s.get('wattproof_agent_last_receipt_age_seconds')).toBe(5);
    expect(s.get('wattproof_agent_device_polls_total{device="grid"}')).toBe(2);
    expect(s.get('wattproof_agent_device_poll_errors_total{device="grid"}')).toBe(1);
    expect(s.get('wattproof_agent_device_health{device="grid",state="unreachable"}')).toBe(1);
    expect(s.get('wattproof_agent_device_health{device="grid",state="ok"}')).toBe(0);
    expect(s.get('wattproof_agent_proofs_signed_total{device="grid"}')).toBe(5);
    expect(s.get('wattproof_agent_mqtt_connected')).toBe(1);
    expect(s.get('wattproof_agent_clock_synchronised')).toBe(1);
    expect(s.get('wattproof_agent_info{gateway="gw_abc",version="1.2.3"}')).toBe(1);
    expect(s.get('process_resident_memory_bytes')).toBe(1234);
    // Every sample belongs to a family declared with HELP and TYPE before it.
    const declared = new Set<string>();
    for (const line of text.split('\n')) {
      const t = /^# TYPE (\S+) (gauge|counter)$/.exec(line);
      if (t) declared.add(t[1] as string);
      else if (line && !line.startsWith('#'))
        expect(declared.has(line.split(/[{ ]/)[0] as string), line).toBe(true);
    }
  });

  it('leaves the receipt age out before the first receipt, and reports a lost broker as 0', () => {
    const s = samples(
      renderMetrics({
        status: status({ lastReceipt: null, broker: null, clock: { synchronised: false, lastJumpAt: null } }),
        polls: new Map(),
        now: 60_000,
        rssBytes: 0,
      }),
    );
    expect(s.has('wattproof_agent_last_receipt_age_seconds')).toBe(false);
    expect(s.get('wattproof_agent_mqtt_connected')).toBe(0);
    expect(s.get('wattproof_agent_clock_synchronised')).toBe(0);
  });

  it('escapes label values and parses listen addresses', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
  });
});
