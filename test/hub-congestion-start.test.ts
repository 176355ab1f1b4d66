// `wattproof-hub start` with a validator policy that manages congestion: without
// engine.gridModelFile it refuses to start (exit 3, naming the key) and leaves nothing running;
// with the grid model it starts and runs the engine.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hubCli, runNode, waitFor } from './support/hub-fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function configWith(engine: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-congestion-start-'));
  copyFileSync(path.join(root, 'deploy/hub/validator-policy.example.yaml'), path.join(dir, 'policy.yaml'));
  const file = path.join(dir, 'hub.yaml');
  writeFileSync(
    file,
    `dataDir: ./data
http:
  port: 0
  operatorToken: ${'t'.repeat(40)}
broker:
  embedded:
    port: 0
engine:
  validatorPolicyFile: ./policy.yaml
${engine}`,
  );
  return file;
}

describe('wattproof-hub start with congestion management', () => {
  it('refuses to start without the grid model, naming the key (exit 3)', { timeout: 60_000 }, async () => {
    const r = await runNode(hubCli, ['start', '--config', configWith('')], 45_000);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /engine\.gridModelFile: required, because the validator policy .* has a congestion section/,
    );
  });

  it('refuses a grid model file that does not exist, naming the key (exit 3)', {
    timeout: 60_000,
  }, async () => {
    const r = await runNode(
      hubCli,
      ['start', '--config', configWith('  gridModelFile: ./missing.yaml\n')],
      45_000,
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/engine\.gridModelFile: no such file .*missing\.yaml/);
  });

  it('starts with the grid model', { timeout: 90_000 }, async () => {
    const grid = path.join(root, 'hub/validator/grids/ieee-14-bus.yaml');
    const child = spawn(
      process.execPath,
      [hubCli, 'start', '--config', configWith(`  gridModelFile: ${grid}\n`)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.stdout.resume();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      // Loading HiGHS on a loaded machine takes a while: wait for the line, not a fixed time.
      const m = await waitFor(
        'the hub to start',
        () => /http (http:\/\/\S+), broker/.exec(stderr) ?? undefined,
        60_000,
      );
      expect(m[1]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
