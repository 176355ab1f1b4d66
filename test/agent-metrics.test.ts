// The agent's own metrics, end to end: the built `wattproof-agent run` process with a real
// Mosquitto and simulated SunSpec devices over Modbus TCP, scraped over HTTP on its loopback port
// as the agent works. Time runs accelerated (one settlement minute every 2 s).
import { appendFileSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { REFUSAL_CODES } from '../agent/dispatch/refusals.js';
import { verifyJws } from '../protocol/index.js';
import { TELEMETRY_TYP, type TelemetryBatch } from '../protocol/messages/index.js';
import { topics } from '../protocol/topics.js';
import { waitFor } from './support/agent-cli.js';
import { setUpGateway } from './support/agent-harness.js';
import { startSimHome } from './support/agent-sim-home.js';
import { TestHub } from './support/agent-test-hub.js';
import { type RunningMosquitto, startMosquitto } from './support/mosquitto.js';

const SCALE = 30;

/** name{labels} → value from a Prometheus text answer. */
function parse(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** The port from the agent's JSON log line "metrics listening". */
function metricsPort(output: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"metrics listening"')) continue;
    const port = (JSON.parse(line) as { port?: number }).port;
    if (typeof port === 'number') return port;
  }
  return undefined;
}

/** TCP sockets the process holds in LISTEN state (its fds matched against /proc/net/tcp{,6}). */
function listeningSockets(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // The fd closed while we looked.
    }
  }
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && inodes.has(cols[9] as string)) n++;
    }
  }
  return n;
}

describe('agent metrics (real agent process, real Mosquitto, simulated devices)', () => {
  let broker: RunningMosquitto;
  const origin = Date.now();

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('only loopback addresses are accepted for metrics.listen', () => {
    const base = "hub: {url: 'mqtt://h'}\ndevices: []\n";
    expect(parseAgentConfig(base).metrics).toEqual({ enabled: false, listen: '127.0.0.1:9464' });
    expect(parseAgentConfig(`${base}metrics: {enabled: true, listen: '[::1]:9100'}`).metrics.listen).toBe(
      '[::1]:9100',
    );
    for (const bad of [
      '0.0.0.0:9464',
      '192.168.1.5:9464',
      'example.org:9464',
      '127.0.0.1',
      '127.0.0.1:70000',
    ]) {
      expect(() => parseAgentConfig(`${base}metrics: {enabled: true, listen: '${bad}'}`), bad).toThrow(
        /metrics\.listen: .* is not allowed; listen is a loopback address/,
      );
    }
  });

  it('serves outbox depth, receipt age, MQTT and device figures that follow what the agent does', async () => {
    // Its own devices: the grid meter is made to stop answering near the end.
    const home = await startSimHome({ scale: SCALE, origin });
    const gw = setUpGateway({ brokerUrl: broker.url, simPort: home.port, scale: SCALE, origin });
    appendFileSync(gw.configFile, "metrics: {enabled: true, listen: '127.0.0.1:0'}\n");
    writeFileSync(gw.syncFile, '');
    const hub = await TestHub.start(broker.url, gw.identity.gatewayId, gw.identity.publicKey);
    // The outbox depth also travels with the telemetry, for the dashboard's backlog column.
    const reported: number[] = [];
    const watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    watcher.on('message', (_topic, payload) => {
      const v = verifyJws(payload.toString('utf8'), {
        typ: TELEMETRY_TYP,
        kid: gw.identity.gatewayId,
        publicKeyFor: () => gw.identity.publicKey,
      });
      if (!v.ok) throw new Error(`telemetry does not verify: ${v.reason}`);
      for (const s of (v.payload as TelemetryBatch).samples)
        if (s.device === 'agent' && s.point === 'outbox') reported.push(s.value);
    });
    await watcher.subscribeAsync(topics.telemetry(gw.identity.gatewayId));
    const agent = gw.start();
    try {
      const port = await waitFor(() => metricsPort(agent.output()), 'the metrics port in the log', 30_000);
      const url = `http://127.0.0.1:${port}/metrics`;
      // The same count the disabled case expects to be 0.
      expect(listeningSockets(agent.child.pid as number)).toBe(1);
      const scrape = async () => {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
        return parse(await res.text());
      };
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      expect((await fetch(url, { method: 'POST' })).status).toBe(405);

      // Working normally: connected, synchronised, proofs receipted.
      const working = await waitFor(
        async () => {
          const s = await scrape();
          return s.get('wattproof_agent_mqtt_connected') === 1 &&
            s.has('wattproof_agent_last_receipt_age_seconds') &&
            (s.get('wattproof_agent_proofs_signed_total{device="grid"}') ?? 0) >= 1
            ? s
            : undefined;
        },
        'a receipt',
        40_000,
        200,
      );
      expect(working.get('wattproof_agent_clock_synchronised')).toBe(1);
      expect(working.get('wattproof_agent_device_health{device="grid",state="ok"}')).toBe(1);
      expect(working.get('wattproof_agent_device_poll_errors_total{device="grid"}')).toBe(0);
      expect(working.get('wattproof_agent_device_polls_total{device="pv"}')).toBeGreaterThan(0);
      expect(
        [...working.keys()].some((k) =>
          k.startsWith(`wattproof_agent_info{gateway="${gw.identity.gatewayId}"`),
        ),
      ).toBe(true);

      await waitFor(() => reported.length > 0, 'the outbox depth in telemetry', 20_000);
      expect(reported.every((n) => Number.isSafeInteger(n) && n >= 0)).toBe(true);

      // Dispatch before any command: every series there at 0 (received, applied, a refusal count
      // per code, 2 unanswered, reverted, 2 write stages, the setpoint), no last-command time.
      const D = 'wattproof_agent_dispatch_';
      const dispatchSeries = [...working].filter(([k]) => k.startsWith(D));
      expect(dispatchSeries).toHaveLength(8 + REFUSAL_CODES.length);
      expect(dispatchSeries.filter(([, v]) => v !== 0)).toEqual([]);
      expect(working.has(`${D}last_command_timestamp_seconds`)).toBe(false);
      // A command the agent cannot read reaches the dispatcher's figures through the running agent.
      await watcher.publishAsync(
        topics.command(gw.identity.gatewayId, 'dispatch'),
        'not a dispatch command',
        {
          qos: 1,
        },
      );
      const commanded = await waitFor(
        async () => {
          const s = await scrape();
          return s.get(`${D}commands_received_total`) === 1 ? s : undefined;
        },
        'the dispatch command counted',
        20_000,
        200,
      );
      expect(commanded.get(`${D}commands_unanswered_total{why="unreadable"}`)).toBe(1);
      expect(commanded.get(`${D}commands_applied_total`)).toBe(0);
      expect(commanded.get(`${D}last_command_timestamp_seconds`)).toBeGreaterThanOrEqual(
        Math.floor(origin / 1000),
      );
      watcher.end(true);

      // Broker down: disconnected, the outbox grows, the last receipt ages.
      await broker.stop();
      const down = await waitFor(
        async () => {
          const s = await scrape();
          return s.get('wattproof_agent_mqtt_connected') === 0 ? s : undefined;
        },
        'the agent to see the broker gone',
        30_000,
        200,
      );
      const grown = await waitFor(
        async () => {
          const s = await scrape();
          return (s.get('wattproof_agent_outbox_pending') ?? 0) >=
            (down.get('wattproof_agent_outbox_pending') ?? 0) + 4
            ? s
            : undefined;
        },
        'the outbox to grow while the broker is down',
        40_000,
        200,
      );
      const ageWhileDown = grown.get('wattproof_agent_last_receipt_age_seconds') ?? 0;
      expect(ageWhileDown).toBeGreaterThan(working.get('wattproof_agent_last_receipt_age_seconds') ?? 0);
      expect(grown.get('wattproof_agent_outbox_oldest_age_seconds')).toBeGreaterThan(0);

      // Broker back: the outbox drains and a new receipt resets the age.
      await broker.restart();
      const back = await waitFor(
        async () => {
          const s = await scrape();
          return s.get('wattproof_agent_mqtt_connected') === 1 &&
            (s.get('wattproof_agent_outbox_pending') ?? 99) <= 2 &&
            (s.get('wattproof_agent_last_receipt_age_seconds') ?? 1e9) < ageWhileDown
            ? s
            : undefined;
        },
        'the outbox to drain and a fresh receipt',
        60_000,
        200,
      );
      expect(back.get('wattproof_agent_last_receipt_seq')).toBeGreaterThan(
        grown.get('wattproof_agent_last_receipt_seq') ?? 0,
      );
      expect(back.get('wattproof_agent_mqtt_connects_total')).toBeGreaterThanOrEqual(2);

      // The grid meter stops answering: its reads fail and are counted, its health leaves ok.
      home.faults('grid').timeout();
      const broken = await waitFor(
        async () => {
          const s = await scrape();
          return (s.get('wattproof_agent_device_poll_errors_total{device="grid"}') ?? 0) >= 2 &&
            s.get('wattproof_agent_device_health{device="grid",state="ok"}') === 0
            ? s
            : undefined;
        },
        'failed reads to be counted',
        40_000,
        200,
      );
      expect(broken.get('wattproof_agent_device_polls_total{device="grid"}')).toBeGreaterThan(
        broken.get('wattproof_agent_device_poll_errors_total{device="grid"}') ?? 0,
      );

      agent.child.kill('SIGTERM');
      expect((await agent.exited).code, agent.output()).toBe(0);
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      agent.child.kill('SIGKILL');
      watcher.end(true);
      await hub.close();
      await home.close();
    }
  }, 180_000);

  it('listens on no port when metrics are not enabled', async () => {
    const gw = setUpGateway({ brokerUrl: broker.url, simPort: 9, scale: SCALE, origin, devices: ['grid'] });
    const hub = await TestHub.start(broker.url, gw.identity.gatewayId, gw.identity.publicKey);
    const agent = gw.start();
    try {
      await waitFor(() => hub.statusMessages.length > 0, 'the agent online', 30_000);
      expect(agent.output()).not.toContain('metrics listening');
      expect(listeningSockets(agent.child.pid as number)).toBe(0);
    } finally {
      agent.child.kill('SIGKILL');
      await hub.close();
    }
  }, 60_000);
});
