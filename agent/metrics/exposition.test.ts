import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AgentStatus } from '../agent.js';
import { type DispatchStats, emptyDispatchStats } from '../dispatch/dispatcher.js';
import { REFUSAL_CODES } from '../dispatch/refusals.js';
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
    const text = renderMetrics({
      status: status(),
      polls: polls.counts,
      dispatch: emptyDispatchStats(),
      now: 60_000,
      rssBytes: 1234,
    });
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
        dispatch: emptyDispatchStats(),
        now: 60_000,
        rssBytes: 0,
      }),
    );
    expect(s.has('wattproof_agent_last_receipt_age_seconds')).toBe(false);
    expect(s.get('wattproof_agent_mqtt_connected')).toBe(0);
    expect(s.get('wattproof_agent_clock_synchronised')).toBe(0);
  });

  it('writes every dispatch series at 0 before the first command, the last-command time absent', () => {
    const s = samples(
      renderMetrics({
        status: status(),
        polls: new Map(),
        dispatch: emptyDispatchStats(),
        now: 0,
        rssBytes: 0,
      }),
    );
    const dispatch = [...s].filter(([k]) => k.startsWith('wattproof_agent_dispatch_'));
    // received, applied, one per refusal code, 2 unanswered, reverted, 2 write stages, setpoint.
    expect(dispatch).toHaveLength(2 + REFUSAL_CODES.length + 2 + 1 + 2 + 1);
    expect(dispatch.every(([, v]) => v === 0)).toBe(true);
    for (const code of REFUSAL_CODES)
      expect(s.get(`wattproof_agent_dispatch_commands_refused_total{reason="${code}"}`)).toBe(0);
    expect(s.has('wattproof_agent_dispatch_last_command_timestamp_seconds')).toBe(false);
  });

  it('moves each dispatch series with its own stat and no other', () => {
    const render = (d: DispatchStats) =>
      samples(renderMetrics({ status: status(), polls: new Map(), dispatch: d, now: 0, rssBytes: 0 }));
    const zero = render(emptyDispatchStats());
    /** The dispatch series that differ from the all-zero rendering, with their values. */
    const moved = (change: (d: DispatchStats) => void) => {
      const d = emptyDispatchStats();
      change(d);
      const out: Record<string, number> = {};
      for (const [k, v] of render(d))
        if (k.startsWith('wattproof_agent_dispatch_') && zero.get(k) !== v) out[k] = v;
      return out;
    };
    const P = 'wattproof_agent_dispatch_';
    expect(moved((d) => (d.received = 3))).toEqual({ [`${P}commands_received_total`]: 3 });
    expect(moved((d) => (d.applied = 2))).toEqual({ [`${P}commands_applied_total`]: 2 });
    expect(
      moved((d) => {
        d.refused = 5;
        d.refusedBy['soc-too-low'] = 4;
        d.refusedBy['write-failed'] = 1;
      }),
    ).toEqual({
      [`${P}commands_refused_total{reason="soc-too-low"}`]: 4,
      [`${P}commands_refused_total{reason="write-failed"}`]: 1,
    });
    expect(moved((d) => (d.unreadable = 1))).toEqual({
      [`${P}commands_unanswered_total{why="unreadable"}`]: 1,
    });
    expect(moved((d) => (d.duplicates = 2))).toEqual({
      [`${P}commands_unanswered_total{why="duplicate"}`]: 2,
    });
    expect(moved((d) => (d.reverted = 1))).toEqual({ [`${P}reverted_total`]: 1 });
    expect(moved((d) => (d.writeFailures.apply = 1))).toEqual({
      [`${P}write_failures_total{stage="apply"}`]: 1,
    });
    expect(moved((d) => (d.writeFailures.release = 2))).toEqual({
      [`${P}write_failures_total{stage="release"}`]: 2,
    });
    expect(moved((d) => (d.setpointW = -1500))).toEqual({ [`${P}setpoint_watts`]: -1500 });
    expect(moved((d) => (d.lastCommandAt = 1_768_442_400_500))).toEqual({
      [`${P}last_command_timestamp_seconds`]: 1_768_442_400.5,
    });
    // Contracts kept are not a dispatch series of their own.
    expect(moved((d) => (d.contracts = 1))).toEqual({});
  });

  it('documents every family it writes in the metrics table of docs/agent-config.md', () => {
    const d = emptyDispatchStats();
    d.lastCommandAt = 1;
    const text = renderMetrics({ status: status(), polls: new Map(), dispatch: d, now: 60_000, rssBytes: 0 });
    const doc = readFileSync(new URL('../../docs/agent-config.md', import.meta.url), 'utf8');
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\| `([a-z_]+)(?:\{([a-z_,]+)\})?` +\| (gauge|counter) /gm))
      rows.set(m[1] as string, `${m[3]} {${m[2] ?? ''}}`);
    const written = new Map<string, { type: string; labels: Set<string> }>();
    for (const line of text.split('\n')) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t) written.set(t[1] as string, { type: t[2] as string, labels: new Set() });
      else if (line && !line.startsWith('#')) {
        const name = line.split(/[{ ]/)[0] as string;
        for (const l of line.matchAll(/([a-z_]+)="/g)) written.get(name)?.labels.add(l[1] as string);
      }
    }
    for (const [name, w] of written)
      expect(rows.get(name), `${name} in docs/agent-config.md`).toBe(
        `${w.type} {${[...w.labels].join(',')}}`,
      );
  });

  it('escapes label values and parses listen addresses', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
  });
});
