// The agent against the real hub, every part real: `wattproof-hub start` (embedded MQTT 3.1.1
// broker, ledger, receipts), a one-time token from `wattproof-hub token create`, then
// `wattproof-agent init`, `enroll` (HTTP), `run` on MQTT 3.1.1 with the enrolled credentials,
// simulated SunSpec devices over Modbus TCP, and finally `wattproof-hub verify` on the ledger.
// Receipts are checked by the agent against the hub's signed checkpoints (log key from enrolment).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { repoRoot, runAgentCli, startAgentCli, waitFor } from './support/agent-cli.js';
import { startSimHome } from './support/agent-sim-home.js';
import { freePort } from './support/mosquitto.js';

const hubCli = path.join(repoRoot, 'dist/hub/cli.js');

function runHub(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [hubCli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    p.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('agent with the real hub', () => {
  it('init → enroll → run: proofs land in the hub ledger, receipts verified, outbox drained, ledger verifies', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-agent-hub-'));
    const [brokerPort, httpPort] = [await freePort(), await freePort()];
    const hubConfig = path.join(dir, 'hub.yaml');
    writeFileSync(
      hubConfig,
      [
        'dataDir: ./hub-data',
        `http: {host: 127.0.0.1, port: ${httpPort}, operatorToken: test-operator-token-0123456789abcdef}`,
        `broker: {embedded: {host: 127.0.0.1, port: ${brokerPort}}}`,
        'ledger: {checkpointIntervalMs: 200}',
        '',
      ].join('\n'),
    );
    let hub: ChildProcess | undefined;
    let hubOut = '';
    const scale = 30;
    const origin = Date.now();
    const sim = await startSimHome({ scale, origin });
    let agent: ReturnType<typeof startAgentCli> | undefined;
    try {
      hub = spawn(process.execPath, [hubCli, 'start', '--config', hubConfig], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      hub.stdout?.on('data', (c: Buffer) => {
        hubOut += c.toString();
      });
      hub.stderr?.on('data', (c: Buffer) => {
        hubOut += c.toString();
      });
      await waitFor(
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${httpPort}/v1/checkpoint`)).status < 500;
          } catch {
            return false;
          }
        },
        'the hub to listen',
        60_000,
        200,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; hub exit code ${hub?.exitCode}, output:\n${hubOut}`);
      });

      const token = await runHub(['token', 'create', '--site', 'home-1', '--config', hubConfig, '--json']);
      expect(token.code, token.stderr).toBe(0);
      const { token: t } = JSON.parse(token.stdout) as { token: string };

      const stateDir = path.join(dir, 'state');
      const agentConfig = path.join(dir, 'agent.yaml');
      writeFileSync(
        agentConfig,
        [
          `gateway: {stateDir: ${stateDir}, settlementMinutes: 1}`,
          // The embedded broker speaks MQTT 3.1.1.
          `hub: {url: 'mqtt://127.0.0.1:${brokerPort}', protocolVersion: 4, reconnectMinMs: 100, reconnectMaxMs: 1000, receiptTimeoutSeconds: 5}`,
          'devices:',
          `  - {name: grid, transport: {type: tcp, host: 127.0.0.1, port: ${sim.port}}, unit: 1, kind: sunspec, role: grid}`,
          'clock: {syncCheck: assume-synchronised}',
          'logging: {format: json}',
          '',
        ].join('\n'),
      );
      expect((await runAgentCli(['init', '--config', agentConfig, '--json'])).code).toBe(0);
      const refused = await runAgentCli([
        'enroll',
        '--config',
        agentConfig,
        '--hub',
        `http://127.0.0.1:${httpPort}`,
        '--token',
        'wpt_forged',
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/refused the enrolment \(40\d token-unknown\)|bad-request/);
      const enrolled = await runAgentCli([
        'enroll',
        '--config',
        agentConfig,
        '--hub',
        `http://127.0.0.1:${httpPort}`,
        '--token',
        t,
      ]);
      expect(enrolled.code, enrolled.stderr).toBe(0);
      const credFile = path.join(stateDir, 'mqtt-credentials.json');
      expect(statSync(credFile).mode & 0o777).toBe(0o600);
      const creds = JSON.parse(readFileSync(credFile, 'utf8')) as {
        password: string;
        logVerifierKey: string;
      };
      expect(enrolled.stdout).not.toContain(creds.password);
      expect(creds.logVerifierKey).toMatch(/\+[0-9a-f]{8}\+/);
      // The token works once.
      const again = await runAgentCli([
        'enroll',
        '--config',
        agentConfig,
        '--hub',
        `http://127.0.0.1:${httpPort}`,
        '--token',
        t,
      ]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('token-used');

      agent = startAgentCli([
        'run',
        '--config',
        agentConfig,
        '--time-scale',
        String(scale),
        '--time-origin',
        String(origin),
      ]);
      const ledger = path.join(dir, 'hub-data', 'ledger.db');
      const proofsInLedger = () => {
        const db = new Database(ledger, { readonly: true, fileMustExist: true });
        try {
          return db
            .prepare<[], { n: number }>(
              "SELECT COUNT(*) AS n FROM entries WHERE typ = 'wattproof.meter-proof.v1'",
            )
            .get()!.n;
        } catch {
          return 0;
        } finally {
          db.close();
        }
      };
      await waitFor(() => proofsInLedger() >= 3, 'three proofs in the hub ledger', 40_000, 200);
      // Receipts came back, verified against the hub's signed checkpoint, and emptied the outbox.
      await waitFor(
        async () => {
          const s = await runAgentCli(['status', '--json', '--config', agentConfig]);
          const j = JSON.parse(s.stdout) as {
            running: boolean;
            outbox: { pending: number; headSeq: number };
            lastReceipt: { seq: number } | null;
            broker: { connected: boolean };
          };
          return (
            j.running &&
            j.broker.connected &&
            j.lastReceipt !== null &&
            j.lastReceipt.seq >= 2 &&
            j.outbox.headSeq >= 2
          );
        },
        'receipts for the first proofs',
        30_000,
        500,
      );
      expect(agent.output()).not.toContain('receipt refused');
      // The hub's own fleet view: online from the birth, then offline from the last will when the
      // agent dies without a word (the will is signed before the birth, with the same time).
      const gatewayId = (
        JSON.parse((await runAgentCli(['keys', 'show', '--json', '--config', agentConfig])).stdout) as {
          gatewayId: string;
        }
      ).gatewayId;
      const fleetState = async () => {
        const r = await fetch(`http://127.0.0.1:${httpPort}/v1/fleet`, {
          headers: { authorization: 'Bearer test-operator-token-0123456789abcdef' },
        });
        const j = (await r.json()) as { gateways: Array<{ gw: string; state: string }> };
        return j.gateways.find((g) => g.gw === gatewayId)?.state;
      };
      await waitFor(
        async () => (await fleetState()) === 'online',
        'the hub to see the gateway online',
        20_000,
        200,
      );
      // The started hub also runs the contracts engine: its reads answer, its operator write is guarded.
      expect((await fetch(`http://127.0.0.1:${httpPort}/v1/contracts`)).status).toBe(200);
      const credit = await fetch(`http://127.0.0.1:${httpPort}/v1/credits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ account: 'pt-aaaaaaaaaaaaaaaa', amountMinor: 1, reference: 'x' }),
      });
      expect(credit.status).toBe(401);
      agent.child.kill('SIGKILL');
      await agent.exited;
      await waitFor(
        async () => (await fleetState()) === 'offline',
        'the last will to mark it offline',
        20_000,
        200,
      );
      const verify = await runHub(['verify', ledger, '--log-key', creds.logVerifierKey]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    } finally {
      agent?.child.kill('SIGKILL');
      hub?.kill('SIGTERM');
      await sim.close();
    }
  }, 120_000);
});
