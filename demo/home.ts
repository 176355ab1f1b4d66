// One simulated home of the neighbourhood: its devices on Modbus TCP (a SunSpec PV inverter and a
// SunSpec grid meter; every other home a battery too; home 2 a heat meter on its heating circuit,
// read through the itron-cf-echo-ii profile, so its proofs include heat), and a real agent with its own key and
// state folder, enrolled through the hub's HTTP enrolment API exactly as `wattproof-agent enroll`
// does, polling its meters over TCP, signing proofs, delivering them over MQTT and taking receipts.
// The agent runs in this process (see docs/demo.md for why), composed as `wattproof-agent run`
// composes it; the simulator's clock is the agent's clock, so both live on one timeline.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import type { Clock } from '../agent/clock.js';
import { parseAgentConfig } from '../agent/config.js';
import { credentialsPath, loadCredentials, saveCredentials } from '../agent/credentials.js';
import { createIdentity, type GatewayIdentity, hasIdentity, loadIdentity } from '../agent/identity.js';
import { Buses, meterSourceFor } from '../agent/meter-source.js';
import { OUTBOX_FILE, Outbox } from '../agent/outbox.js';
import { Uplink } from '../agent/uplink.js';
import { packageVersion } from '../agent/version.js';
import { Simulator, type UnitSpec } from '../device-drivers/sim/simulator.js';
import { b64url, sha256 } from '../protocol/index.js';

export interface HomeTiming {
  settlementMinutes: number;
  /** Virtual seconds between two reads of a meter. */
  pollSeconds: number;
  lateReadingSeconds: number;
  telemetrySeconds: number;
}

export interface HomeSpec {
  /** 1-based number of the home; its folder is homes/home-NNN and its site `home-NNN`. */
  n: number;
  dir: string;
  homesStartMs: number;
  stepMs: number;
  clock: Clock;
  timing: HomeTiming;
  brokerUrl: string;
  /** The hub's HTTP API and the operator token that creates enrolment tokens. */
  hubUrl: string;
  operatorToken: string;
  log: Logger;
}

/** The one home whose heating circuit has a heat meter (on a heat network). */
export const HEAT_METER_HOME = 2;

/** Sizes of each home, fixed by its number so a restarted demo rebuilds the same home. */
export function homeProfile(n: number): {
  seed: number;
  pvPeakW: number;
  batteryWh: number;
  baseLoadW: number;
  heatMeter: boolean;
} {
  // Some roofs are bare: home 3 and every fifth after it, a bigger household (a small shop below
  // the flat) with no PV. It buys even on a bright winter morning, so a neighbourhood of three
  // already has a buyer whatever the weather.
  const bare = n % 5 === 3;
  return {
    heatMeter: n === HEAT_METER_HOME,
    seed: 1000 + n,
    // 3 to 9 kWp.
    pvPeakW: bare ? 0 : 3000 + ((n * 1733) % 7) * 1000,
    batteryWh: n % 2 === 0 ? 10_000 : 0,
    baseLoadW: 200 + ((n * 37) % 5) * 100 + (bare ? 800 : 0),
  };
}

export function siteOf(n: number): string {
  return `home-${String(n).padStart(3, '0')}`;
}

interface EnrolAnswer {
  gatewayId: string;
  site?: string;
  mqtt: { url: string; username: string; password: string };
  hub?: { id?: string; publicKey?: string; logVerifierKey?: string };
  binding?: { index: number; leafHash: string };
}

async function postJson(
  url: string,
  body: unknown,
  bearer?: string,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // kept as text for the error message
  }
  return { status: res.status, body: parsed };
}

/** The operator's half (a one-time token for the site) and the gateway's half (POST /v1/enroll). */
export async function enrolOverHttp(
  hubUrl: string,
  operatorToken: string,
  site: string,
  id: GatewayIdentity,
): Promise<EnrolAnswer> {
  const t = await postJson(`${hubUrl}/v1/enroll-tokens`, { site }, operatorToken);
  const token = (t.body as { token?: unknown }).token;
  if (t.status !== 201 || typeof token !== 'string') {
    throw new Error(`the hub refused an enrolment token for ${site}: ${t.status} ${JSON.stringify(t.body)}`);
  }
  const e = await postJson(`${hubUrl}/v1/enroll`, {
    token,
    publicKey: b64url.encode(id.publicKey),
    gatewayId: id.gatewayId,
  });
  const answer = e.body as EnrolAnswer;
  if (e.status !== 201 || answer.gatewayId !== id.gatewayId || typeof answer.mqtt?.password !== 'string') {
    throw new Error(`the hub refused the enrolment of ${site}: ${e.status} ${JSON.stringify(e.body)}`);
  }
  return answer;
}

export class SimulatedHome {
  readonly site: string;
  readonly hasBattery: boolean;
  readonly hasHeatMeter: boolean;
  private constructor(
    readonly n: number,
    readonly gatewayId: string,
    readonly sim: Simulator,
    readonly agent: Agent,
    private readonly outbox: Outbox,
    private readonly buses: Buses,
  ) {
    this.site = siteOf(n);
    this.hasBattery = sim.devices.has(3);
    this.hasHeatMeter = sim.devices.has(4);
  }

  static async start(s: HomeSpec): Promise<SimulatedHome> {
    const profile = homeProfile(s.n);
    const units: UnitSpec[] = [
      { unit: 1, kind: 'sunspec-inverter' },
      { unit: 2, kind: 'sunspec-meter' },
      ...(profile.batteryWh > 0 ? [{ unit: 3, kind: 'sunspec-battery' as const }] : []),
      ...(profile.heatMeter ? [{ unit: 4, kind: 'heat-meter' as const }] : []),
    ];
    const sim = await Simulator.start({
      units,
      tcp: { host: '127.0.0.1', port: 0 },
      clock: { now: () => s.clock.now() },
      home: {
        seed: profile.seed,
        startMs: s.homesStartMs,
        pvPeakW: profile.pvPeakW,
        batteryWh: profile.batteryWh,
        baseLoadW: profile.baseLoadW,
        stepMs: s.stepMs,
      },
      heat: { stepMs: s.stepMs },
    });
    try {
      // Replays the physics from the neighbourhood's first moment, so the counters continue
      // exactly where the last run left them (and the first Modbus answer is not slow).
      sim.home.advanceTo(s.clock.now());
      sim.devices.get(4)?.refresh?.(); // the heat meter's circuit, likewise
      const stateDir = path.join(s.dir, 'state');
      const configFile = path.join(s.dir, 'agent.yaml');
      mkdirSync(s.dir, { recursive: true, mode: 0o700 });
      // The simulator gets a new port every run, so the config is written each time.
      writeFileSync(
        configFile,
        agentConfigYaml(stateDir, s.brokerUrl, sim.tcpPort ?? 0, s.timing, sim.devices.get(4)?.serial),
        { mode: 0o600 },
      );
      const config = parseAgentConfig(readFileSync(configFile, 'utf8'), configFile);
      const identity = hasIdentity(stateDir) ? loadIdentity(stateDir) : createIdentity(stateDir);
      const credFile = credentialsPath(config);
      let credentials = loadCredentials(credFile);
      if (!credentials?.password) {
        const a = await enrolOverHttp(s.hubUrl, s.operatorToken, siteOf(s.n), identity);
        saveCredentials(credFile, {
          url: a.mqtt.url,
          username: a.mqtt.username,
          password: a.mqtt.password,
          ...(a.hub?.logVerifierKey ? { logVerifierKey: a.hub.logVerifierKey } : {}),
          ...(a.hub?.id ? { hubId: a.hub.id } : {}),
          ...(a.site ? { site: a.site } : {}),
          ...(a.binding ? { binding: a.binding } : {}),
        });
        credentials = loadCredentials(credFile);
      }
      const creds = { ...(credentials ?? {}), url: s.brokerUrl };
      const log = s.log.child({ home: siteOf(s.n), gw: identity.gatewayId });
      const outbox = new Outbox(path.join(stateDir, OUTBOX_FILE), identity);
      const buses = new Buses();
      const agent = new Agent({
        config,
        identity,
        clock: s.clock,
        // Simulated time is the only time these homes know; it is synchronised by construction.
        clockSync: async () => true,
        sources: config.devices.map((d) => meterSourceFor(buses, d)),
        outbox,
        log,
        version: packageVersion(),
        configHash: b64url.encode(sha256(readFileSync(configFile))),
        credentials: creds,
        uplink: (statusJws) =>
          new Uplink({
            hub: config.hub,
            credentials: creds,
            gatewayId: identity.gatewayId,
            outbox,
            log,
            statusJws,
            receiptTimeoutMs: config.hub.receiptTimeoutSeconds * 1000,
            now: () => s.clock.now(),
          }),
      });
      await agent.start();
      return new SimulatedHome(s.n, identity.gatewayId, sim, agent, outbox, buses);
    } catch (err) {
      await sim.close();
      throw err;
    }
  }

  /** Expected net export over the next `ms` of simulated time, Wh (< 0: the home needs energy). */
  expectedSurplusWh(fromMs: number, ms: number): number {
    const h = this.sim.home;
    const steps = 6;
    let wh = 0;
    for (let i = 0; i < steps; i++) {
      const t = fromMs + ((i + 0.5) * ms) / steps;
      wh += ((h.pvAvailableW(t) - h.loadAt(t)) * ms) / steps / 3_600_000;
    }
    return Math.round(wh);
  }

  /** The agent finishes (its outbox keeps what is not receipted), then the devices go quiet. */
  async stop(): Promise<void> {
    await this.agent.stop();
    this.outbox.close();
    await this.buses.close();
    await this.sim.close();
  }
}

export function agentConfigYaml(
  stateDir: string,
  brokerUrl: string,
  simPort: number,
  t: HomeTiming,
  /** The heat meter's serial number, when the home has one (unit 4). */
  heatMeterSerial?: string,
): string {
  const transport = `transport: {type: tcp, host: 127.0.0.1, port: ${simPort}, timeoutMs: 1000}`;
  const dev = (name: string, unit: number) =>
    `  - {name: ${name}, ${transport}, unit: ${unit}, kind: sunspec, role: ${name}, pollSeconds: ${t.pollSeconds}}`;
  return [
    '# Written by the demo (npm start) at every start: the simulator listens on a new port each run.',
    `gateway: {stateDir: '${stateDir}', settlementMinutes: ${t.settlementMinutes}, lateReadingSeconds: ${t.lateReadingSeconds}}`,
    // The embedded broker speaks MQTT 3.1.1.
    `hub: {url: '${brokerUrl}', protocolVersion: 4, reconnectMinMs: 200, reconnectMaxMs: 2000, receiptTimeoutSeconds: 10}`,
    'devices:',
    dev('grid', 2),
    dev('pv', 1),
    // The heat meter's proofs are heat proofs (its profile says energy: heat). The profile has no
    // serial-number role, so the serial printed on the meter is written here, as an installer does.
    ...(heatMeterSerial !== undefined
      ? [
          `  - {name: heat, ${transport}, unit: 4, kind: profile, profile: itron-cf-echo-ii, serial: '${heatMeterSerial}', role: heat, pollSeconds: ${t.pollSeconds}}`,
        ]
      : []),
    'clock: {syncCheck: assume-synchronised}',
    `telemetry: {intervalSeconds: ${t.telemetrySeconds}, bufferSize: 100}`,
    'logging: {level: info, format: json}',
    '',
  ].join('\n');
}
