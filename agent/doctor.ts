// `wattproof-agent doctor`: each check says what is wrong and what to do about it.
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { clockSyncCheckFor } from './clock-sync.js';
import { loadConfigOrFail } from './commands/common.js';
import type { AgentConfig } from './config.js';
import { credentialsPath, loadCredentials } from './credentials.js';
import { ExitCode } from './exit-codes.js';
import { keyPath, loadIdentity } from './identity.js';
import { Buses, meterSourceFor } from './meter-source.js';
import { readOutboxSummary } from './status-report.js';
import { authOptions } from './uplink.js';

type Verdict = 'ok' | 'warn' | 'fail';
interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  fix?: string;
}

const MB = 1024 * 1024;

function checkState(config: AgentConfig): Check[] {
  const out: Check[] = [];
  const dir = config.gateway.stateDir;
  if (!existsSync(dir)) {
    return [
      {
        name: 'state directory',
        verdict: 'fail',
        detail: `${dir} does not exist`,
        fix: 'run `wattproof-agent init`',
      },
    ];
  }
  try {
    accessSync(dir, constants.W_OK);
    out.push({ name: 'state directory', verdict: 'ok', detail: `${dir} is writable` });
  } catch {
    out.push({
      name: 'state directory',
      verdict: 'fail',
      detail: `${dir} is not writable`,
      fix: `run the agent as the owner of ${dir}`,
    });
  }
  try {
    const id = loadIdentity(dir);
    out.push({ name: 'gateway key', verdict: 'ok', detail: `${id.gatewayId} (${keyPath(dir)}, mode 0600)` });
  } catch (err) {
    out.push({
      name: 'gateway key',
      verdict: 'fail',
      detail: err instanceof Error ? err.message : String(err),
      fix: 'run `wattproof-agent init`',
    });
  }
  try {
    const fs = statfsSync(dir);
    const free = fs.bavail * fs.bsize;
    const verdict: Verdict = free < 50 * MB ? 'fail' : free < 500 * MB ? 'warn' : 'ok';
    out.push({
      name: 'disk space',
      verdict,
      detail: `${Math.floor(free / MB)} MB free for ${dir}`,
      ...(verdict !== 'ok'
        ? { fix: 'free space: the outbox must be able to grow while the hub is unreachable' }
        : {}),
    });
  } catch (err) {
    out.push({ name: 'disk space', verdict: 'warn', detail: `cannot tell (${String(err)})` });
  }
  const ob = readOutboxSummary(dir);
  const ageMin = ob.oldestCreatedAt === null ? 0 : Math.round((Date.now() - ob.oldestCreatedAt) / 60_000);
  out.push({
    name: 'outbox',
    verdict: ob.rejected > 0 ? 'fail' : ageMin > 60 ? 'warn' : 'ok',
    detail: `${ob.pending} message(s) waiting for a receipt${ob.oldestSeq !== null ? `, the oldest for ${ageMin} min` : ''}${ob.rejected ? `, ${ob.rejected} rejected by the hub` : ''}`,
    ...(ob.rejected > 0
      ? {
          fix: 'the hub rejected signed messages; tell the operator (they are kept in the outbox as evidence)',
        }
      : ageMin > 60
        ? { fix: 'messages are not being receipted: check the broker connection below' }
        : {}),
  });
  return out;
}

async function checkClock(config: AgentConfig): Promise<Check> {
  const synced = await clockSyncCheckFor(config.clock.syncCheck, config.clock.syncFile)();
  return synced
    ? { name: 'clock', verdict: 'ok', detail: `synchronised (${config.clock.syncCheck})` }
    : {
        name: 'clock',
        verdict: 'fail',
        detail: `not synchronised (${config.clock.syncCheck}); proofs will carry the clock-unsynchronised flag`,
        fix: 'enable NTP (`timedatectl set-ntp true`) and check the gateway can reach an NTP server',
      };
}

async function checkDevices(config: AgentConfig): Promise<Check[]> {
  const buses = new Buses();
  const out: Check[] = [];
  try {
    for (const d of config.devices) {
      const src = meterSourceFor(buses, d);
      try {
        const info = await src.describe();
        const r = await src.read();
        out.push({
          name: `device ${d.name}`,
          verdict: 'ok',
          detail: `${info.manufacturer ?? '?'} ${info.model ?? '?'} serial ${info.serial}: import ${r.counters.importWh} Wh, export ${r.counters.exportWh} Wh`,
        });
      } catch (err) {
        const where =
          d.transport.type === 'tcp' ? `${d.transport.host}:${d.transport.port}` : d.transport.path;
        out.push({
          name: `device ${d.name}`,
          verdict: 'fail',
          detail: err instanceof Error ? err.message : String(err),
          fix: `check the wiring/address (${where}, unit ${d.unit}); \`wattproof-agent scan\` lists what answers`,
        });
      }
    }
  } finally {
    await buses.close();
  }
  if (config.devices.length === 0)
    out.push({
      name: 'devices',
      verdict: 'warn',
      detail: 'no devices configured',
      fix: 'add devices to the config',
    });
  return out;
}

async function checkBroker(config: AgentConfig, gatewayId: string | undefined): Promise<Check> {
  const creds = loadCredentials(credentialsPath(config)) ?? {};
  let auth: ReturnType<typeof authOptions>;
  try {
    auth = authOptions(config.hub, creds);
  } catch (err) {
    return {
      name: 'broker',
      verdict: 'fail',
      detail: `cannot read a TLS or password file: ${String(err)}`,
      fix: 'check hub.ca, hub.clientCert, hub.clientKey and hub.passwordFile',
    };
  }
  const username = auth.username;
  if (username === undefined && !config.hub.clientCert) {
    return {
      name: 'broker',
      verdict: 'fail',
      detail: 'no MQTT credentials',
      fix: 'run `wattproof-agent enroll --hub URL --token TOKEN`',
    };
  }
  return new Promise((resolve) => {
    const client = mqtt.connect(config.hub.url, {
      // Not the agent's own client id: connecting with it would take over the running agent's session.
      clientId: `${gatewayId ?? 'gw'}-doctor-${process.pid}`,
      clean: true,
      protocolVersion: config.hub.protocolVersion,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...auth,
    });
    const done = (c: Check) => {
      client.end(true);
      resolve(c);
    };
    client.once('connect', () =>
      done({
        name: 'broker',
        verdict: 'ok',
        detail: `${config.hub.url} accepted ${username ?? 'the client certificate'}`,
      }),
    );
    client.once('error', (err) => {
      const notAuthorised = /not authori[sz]ed|bad user ?name or password|code 4|code 5|135|134/i.test(
        err.message,
      );
      done({
        name: 'broker',
        verdict: 'fail',
        detail: `${config.hub.url}: ${err.message}`,
        fix: notAuthorised
          ? 'the broker refused the credentials: enrol again (`wattproof-agent enroll`)'
          : /certificate|self.signed|SSL|TLS|handshake/i.test(err.message)
            ? 'TLS failed: check hub.ca (the CA that signed the broker) and the client certificate'
            : 'the broker is unreachable: check hub.url, the network and the firewall',
      });
    });
    setTimeout(
      () =>
        done({
          name: 'broker',
          verdict: 'fail',
          detail: `${config.hub.url}: no answer in 6 s`,
          fix: 'check hub.url, the network and the firewall',
        }),
      6000,
    ).unref();
  });
}

const MARK: Record<Verdict, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export interface DoctorOptions {
  config?: string;
  json?: boolean;
  skipDevices?: boolean;
}

export async function doctor(opts: DoctorOptions): Promise<ExitCode> {
  const config = loadConfigOrFail(opts.config);
  const checks: Check[] = [
    {
      name: 'config',
      verdict: 'ok',
      detail: `${path.resolve(opts.config ?? '/etc/wattproof/agent.yaml')} is valid`,
    },
  ];
  checks.push(...checkState(config));
  let gatewayId: string | undefined;
  try {
    gatewayId = loadIdentity(config.gateway.stateDir).gatewayId;
  } catch {
    gatewayId = undefined; // reported by the key check above
  }
  checks.push(await checkClock(config));
  if (!opts.skipDevices) checks.push(...(await checkDevices(config)));
  checks.push(await checkBroker(config, gatewayId));
  const failed = checks.some((c) => c.verdict === 'fail');
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ok: !failed, checks }, null, 2)}\n`);
  } else {
    for (const c of checks) {
      process.stdout.write(
        `${MARK[c.verdict]}  ${c.name}: ${c.detail}\n${c.fix ? `      → ${c.fix}\n` : ''}`,
      );
    }
    process.stdout.write(
      failed ? 'Some checks failed; fix them and run doctor again.\n' : 'All checks passed.\n',
    );
  }
  return failed ? ExitCode.failure : ExitCode.ok;
}
