// Sets up a gateway for an end-to-end test: a temp dir with a config file pointing at a broker and
// a simulated home, a fresh key, and helpers to start the real `wattproof-agent run` process on
// accelerated time and read its outbox.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createIdentity, type GatewayIdentity } from '../../agent/identity.js';
import { startAgentCli } from './agent-cli.js';

export interface Gateway {
  dir: string;
  stateDir: string;
  configFile: string;
  syncFile: string;
  identity: GatewayIdentity;
  scale: number;
  origin: number;
  start(): ReturnType<typeof startAgentCli>;
  /** Rows still in the outbox (read-only look at the real SQLite file). */
  outboxSeqs(): number[];
}

/** Starts `wattproof-agent run --config FILE` on accelerated time (`scale` from `origin`). */
export function startAgentRun(
  configFile: string,
  scale: number,
  origin: number,
): ReturnType<typeof startAgentCli> {
  return startAgentCli([
    'run',
    '--config',
    configFile,
    '--time-scale',
    String(scale),
    '--time-origin',
    String(origin),
  ]);
}

export function setUpGateway(opts: {
  brokerUrl: string;
  simPort: number;
  scale: number;
  origin: number;
  hubExtra?: string;
  devices?: Array<'grid' | 'pv'>;
  pollSeconds?: number;
}): Gateway {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-agent-e2e-'));
  const stateDir = path.join(dir, 'state');
  const syncFile = path.join(dir, 'clock-synchronised');
  const configFile = path.join(dir, 'agent.yaml');
  const devices = (opts.devices ?? ['grid', 'pv']).map((name) => {
    const unit = name === 'grid' ? 1 : 2;
    return `  - {name: ${name}, transport: {type: tcp, host: 127.0.0.1, port: ${opts.simPort}, timeoutMs: 500}, unit: ${unit}, kind: sunspec, role: ${name}, pollSeconds: ${opts.pollSeconds ?? 5}}`;
  });
  writeFileSync(
    configFile,
    [
      `gateway: {stateDir: ${stateDir}, settlementMinutes: 1, lateReadingSeconds: 30}`,
      `hub: {url: '${opts.brokerUrl}', protocolVersion: 5, reconnectMinMs: 100, reconnectMaxMs: 500, maxInFlight: 8, receiptTimeoutSeconds: 3${opts.hubExtra ?? ''}}`,
      'devices:',
      ...devices,
      `clock: {syncCheck: file, syncFile: ${syncFile}, checkSeconds: 5}`,
      'telemetry: {intervalSeconds: 10, bufferSize: 100}',
      'logging: {level: info, format: json}',
      '',
    ].join('\n'),
  );
  const identity = createIdentity(stateDir);
  return {
    dir,
    stateDir,
    configFile,
    syncFile,
    identity,
    scale: opts.scale,
    origin: opts.origin,
    start: () => startAgentRun(configFile, opts.scale, opts.origin),
    outboxSeqs() {
      const db = new Database(path.join(stateDir, 'outbox.sqlite'), { readonly: true, fileMustExist: true });
      try {
        return db
          .prepare<[], { seq: number }>('SELECT seq FROM outbox ORDER BY seq')
          .all()
          .map((r) => r.seq);
      } finally {
        db.close();
      }
    },
  };
}
