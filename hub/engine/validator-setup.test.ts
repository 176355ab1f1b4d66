// The engine's validator from the hub's configuration: the congestion keys are checked with
// errors naming the key, a policy that manages congestion needs the grid model file, and with it
// the engine gets a congestion step.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, parseHubConfig } from '../config.js';
import { K, POLICY_INPUT, triangleGrid } from '../validator/fixtures.js';
import { setUpValidator, ValidatorSetupError } from './validator-setup.js';

const TOKEN = 'x'.repeat(32);
const base = { dataDir: './data', http: { operatorToken: TOKEN } };

function files() {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-validator-setup-'));
  const withCongestion = path.join(dir, 'policy.yaml');
  writeFileSync(withCongestion, stringify(POLICY_INPUT));
  const { congestion: _drop, ...rest } = POLICY_INPUT;
  const without = path.join(dir, 'policy-no-congestion.yaml');
  writeFileSync(without, stringify(rest));
  const grid = path.join(dir, 'grid.yaml');
  writeFileSync(grid, stringify(triangleGrid()));
  return { dir, withCongestion, without, grid };
}

const opts = {
  secretKey: K.validator.secretKey,
  currency: 'EUR',
  congestionPeriodMs: 900_000,
  congestionLeadMs: 3_600_000,
  log: pino({ level: 'silent' }),
};

describe('engine congestion configuration', () => {
  it('defaults, resolved paths, and errors naming the key', () => {
    const c = parseHubConfig(
      { ...base, engine: { validatorPolicyFile: 'p.yaml', gridModelFile: 'g.yaml' } },
      '/etc/wattproof',
    );
    expect(c.engine).toMatchObject({
      gridModelFile: '/etc/wattproof/g.yaml',
      congestionPeriodSeconds: 900,
      congestionLeadSeconds: 3600,
    });
    expect(() => parseHubConfig({ ...base, engine: { gridModelFile: 'g.yaml' } }, '/')).toThrow(
      /engine\.gridModelFile: needs engine\.validatorPolicyFile/,
    );
    expect(() => parseHubConfig({ ...base, engine: { congestionPeriodSeconds: 600 } }, '/')).toThrow(
      ConfigError,
    );
    expect(() => parseHubConfig({ ...base, engine: { congestionPeriodSeconds: 600 } }, '/')).toThrow(
      /engine\.congestionPeriodSeconds: must be one of 60, 300, 900, 1800, 3600 seconds/,
    );
    expect(() => parseHubConfig({ ...base, engine: { congestionLeadSeconds: 0 } }, '/')).toThrow(
      /engine\.congestionLeadSeconds/,
    );
  });

  it('a policy that manages congestion needs the grid model; with it the engine gets the congestion step', async () => {
    const f = files();
    await expect(setUpValidator({ ...opts, policyFile: f.withCongestion })).rejects.toThrow(
      ValidatorSetupError,
    );
    await expect(setUpValidator({ ...opts, policyFile: f.withCongestion })).rejects.toThrow(
      /engine\.gridModelFile: required, because the validator policy .* has a congestion section/,
    );
    const full = await setUpValidator({ ...opts, policyFile: f.withCongestion, gridModelFile: f.grid });
    expect(full.congestion?.kid).toBe(K.validator.id);
    expect(full.validator.kid).toBe(K.validator.id);
    // A congestion interval longer than the shortest contract period could not be settled.
    await expect(
      setUpValidator({
        ...opts,
        policyFile: f.withCongestion,
        gridModelFile: f.grid,
        congestionPeriodMs: 1_800_000,
      }),
    ).rejects.toThrow(
      /engine\.congestionPeriodSeconds: 1800 is longer than the shortest settlement period the policy allows \(900 s/,
    );
    // Without a congestion section: the validator (the grid model still serves registration), no step.
    const plain = await setUpValidator({ ...opts, policyFile: f.without, gridModelFile: f.grid });
    expect(plain.congestion).toBeUndefined();
  });
});
