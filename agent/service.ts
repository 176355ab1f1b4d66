// `wattproof-agent run`: wires the real clock, devices, outbox, uplink and logger into an Agent,
// and runs it until SIGTERM or SIGINT, telling systemd (Type=notify) when it is ready, that it is
// alive while its poll loop makes progress, and when it stops. Loaded only by the run command.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { b64url, sha256 } from '../protocol/index.js';
import { Agent } from './agent.js';
import { type Clock, scaledClock, systemClock } from './clock.js';
import { clockSyncCheckFor } from './clock-sync.js';
import { CommandFailure, loadConfigOrFail } from './commands/common.js';
import { DEFAULT_CONFIG_PATH } from './config.js';
import { credentialsPath, loadCredentials } from './credentials.js';
import { dispatchFor } from './dispatch/index.js';
import { ExitCode } from './exit-codes.js';
import { loadIdentity } from './identity.js';
import { createLogger } from './log.js';
import { Buses, meterSourceFor } from './meter-source.js';
import { PollCounter, serveAgentMetrics } from './metrics/index.js';
import { OUTBOX_FILE, Outbox } from './outbox.js';
import { notifyReady, notifyStopping, startWatchdog } from './systemd-notify.js';
import { Uplink } from './uplink.js';
import { packageVersion } from './version.js';

export interface RunOptions {
  config?: string;
  timeScale?: string;
  timeOrigin?: string;
}

export async function runAgent(opts: RunOptions): Promise<ExitCode> {
  const configFile = opts.config ?? DEFAULT_CONFIG_PATH;
  const config = loadConfigOrFail(configFile);
  const identity = loadIdentity(config.gateway.stateDir);
  const log = createLogger(config.logging);
  let clock: Clock = systemClock;
  if (opts.timeScale !== undefined) {
    const scale = Number(opts.timeScale);
    const origin = opts.timeOrigin !== undefined ? Number(opts.timeOrigin) : Date.now();
    if (!(scale > 0) || !Number.isFinite(origin)) {
      throw new CommandFailure('--time-scale must be a number > 0 and --time-origin UTC ms', ExitCode.usage);
    }
    clock = scaledClock(scale, origin);
    log.warn({ scale, origin }, 'accelerated time: for tests and demos only');
  }
  let credentials: ReturnType<typeof loadCredentials>;
  try {
    credentials = loadCredentials(credentialsPath(config));
  } catch (err) {
    throw new CommandFailure(`cannot read ${credentialsPath(config)}: ${String(err)}`, ExitCode.config);
  }
  const outbox = new Outbox(path.join(config.gateway.stateDir, OUTBOX_FILE), identity);
  const buses = new Buses();
  const polls = new PollCounter();
  const sources = config.devices.map((d) => polls.wrap(meterSourceFor(buses, d)));
  const configHash = b64url.encode(sha256(readFileSync(configFile)));
  const dispatch = dispatchFor({
    config,
    gatewayId: identity.gatewayId,
    outbox,
    clock,
    log,
    buses,
    credentialsFile: credentialsPath(config),
  });
  const agent = new Agent({
    config,
    identity,
    clock,
    clockSync: clockSyncCheckFor(config.clock.syncCheck, config.clock.syncFile),
    sources,
    outbox,
    log,
    version: packageVersion(),
    configHash,
    ...(credentials ? { credentials } : {}),
    uplink: (statusJws, onContract) =>
      dispatch.attach(
        new Uplink({
          hub: config.hub,
          credentials: credentials ?? {},
          gatewayId: identity.gatewayId,
          outbox,
          log,
          statusJws,
          receiptTimeoutMs: config.hub.receiptTimeoutSeconds * 1000,
          now: () => clock.now(),
          onContract: dispatch.contracts(onContract),
          onDispatch: dispatch.onDispatch,
        }),
      ),
  });
  await agent.start();
  const metrics = await serveAgentMetrics({
    config: config.metrics,
    agent,
    polls,
    dispatch: dispatch.dispatcher,
    clock,
    log,
  });
  void notifyReady(`polling ${sources.length} device(s) as ${identity.gatewayId}`);
  // Alive = a poll round finished recently (failed reads count: a dead meter is not a hung agent).
  // A round comes every poll interval (real time, so divided by an accelerated clock's scale);
  // allow two of the longest, and never less than a minute.
  const scale = opts.timeScale !== undefined ? Number(opts.timeScale) : 1;
  const longestPollMs = Math.max(0, ...config.devices.map((d) => (d.pollSeconds ?? 5) * 1000)) / scale;
  const stalledAfterMs = Math.max(60_000, 2 * longestPollMs);
  const stopWatchdog = startWatchdog(() => performance.now() - agent.lastLoopAt < stalledAfterMs);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'stopping');
  stopWatchdog();
  void notifyStopping();
  // Every signed message is committed before it is sent, so stopping at any point loses nothing;
  // this only bounds how long a stuck socket may delay the exit.
  setTimeout(() => {
    log.error('stopping took more than 10 s; exiting now (the outbox keeps everything unreceipted)');
    process.exit(ExitCode.ok);
  }, 10_000).unref();
  await metrics?.close();
  dispatch.stop();
  await agent.stop();
  outbox.close();
  await buses.close();
  // Nothing should be left running; if a library keeps a handle open, do not hang on it.
  setTimeout(() => process.exit(ExitCode.ok), 1000).unref();
  return ExitCode.ok;
}
