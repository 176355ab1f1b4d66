import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { POLICY, POLICY_INPUT } from './fixtures.js';
import { PolicyError, parsePolicy, parsePolicyYaml, policyHashOf, readPolicyFile } from './policy.js';

const example = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../deploy/hub/validator-policy.example.yaml',
);

function problems(raw: unknown): string[] {
  try {
    parsePolicy(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return [...(e as PolicyError).problems];
  }
  throw new Error('the policy was accepted');
}

const clone = () => structuredClone(POLICY_INPUT) as Record<string, unknown> & typeof POLICY_INPUT;

describe('validator policy file', () => {
  it('reads the shipped example, filling defaults', () => {
    const p = readPolicyFile(example);
    expect(p.registration.roles.utility?.humanReview).toBe('always');
    expect(p.registration.roles.household?.minGateways).toBe(1);
    expect(p.contracts.prices.electricity).toEqual({ floorMinorPerKWh: 0, capMinorPerKWh: 300 });
    expect(p.congestion?.method).toBe('min-adjustment');
    expect(p.congestion?.refuseTolerancePerMille).toBe(10);
  });

  it('hashes canonically: reformatting keeps the hash, a changed value changes it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'policy-'));
    try {
      const text = readFileSync(example, 'utf8');
      const reformatted = stringify(parsePolicyYaml(text), { indent: 4 });
      const file = path.join(dir, 'policy.yaml');
      writeFileSync(file, reformatted);
      expect(policyHashOf(readPolicyFile(file))).toBe(policyHashOf(readPolicyFile(example)));
      writeFileSync(file, text.replace('capMinorPerKWh: 300', 'capMinorPerKWh: 301'));
      expect(policyHashOf(readPolicyFile(file))).not.toBe(policyHashOf(readPolicyFile(example)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(policyHashOf(POLICY)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('names an unknown key and says to remove it', () => {
    const p = clone();
    (p.contracts as Record<string, unknown>)['leadTime'] = 5;
    expect(problems(p)).toEqual([
      'contracts.leadTime: unknown key; remove it or check its spelling (docs/validator.md lists the keys)',
    ]);
  });

  it('names a missing key and says to add it', () => {
    const p = clone();
    delete (p.contracts as Record<string, unknown>)['leadTimeMs'];
    expect(problems(p)).toEqual([
      'contracts.leadTimeMs: is required; add it (docs/validator.md, "The policy file")',
    ]);
  });

  it('tells a key of the wrong type from a missing one', () => {
    const p = clone();
    (p.contracts as Record<string, unknown>)['buyerDepositCoversPayment'] = 'yes';
    expect(problems(p)).toEqual(['contracts.buyerDepositCoversPayment: must be true or false']);
  });

  it('names a bad value with the allowed ones', () => {
    const p = clone();
    (p.registration.roles as Record<string, unknown>)['landlord'] = { energies: {} };
    (p.contracts as Record<string, unknown>)['settlementPeriodsMs'] = [900_000, 600_000];
    const out = problems(p);
    expect(out).toContain(
      'registration.roles.landlord: is not a role: household, producer, utility, storage',
    );
    expect(out).toContain(
      'contracts.settlementPeriodsMs.1: must be one of 60000, 300000, 900000, 1800000, 3600000 ms',
    );
  });

  it('refuses a floor above the cap and a human-review threshold above the limit, naming the fix', () => {
    const p = clone();
    p.contracts.prices = { electricity: { floorMinorPerKWh: 40, capMinorPerKWh: 30 } };
    const hh = p.registration.roles.household as { energies: Record<string, unknown> };
    hh.energies['electricity'] = { maxCapacityW: 1000, humanReviewAboveW: 2000 };
    expect(problems(p)).toEqual([
      'contracts.prices.electricity.floorMinorPerKWh: 40 is above the cap 30; lower the floor or raise the cap',
      'registration.roles.household.energies.electricity.humanReviewAboveW: 2000 W is above maxCapacityW 1000 W, so it never applies; lower it or remove it',
    ]);
  });

  it('checks the congestion section with the congestion schema', () => {
    const p = clone();
    p.congestion = { method: 'cheapest' as 'min-adjustment', weights: { default: 1 } };
    expect(problems(p)[0]).toMatch(/^congestion\.method: /);
  });

  it('says when the file is not YAML', () => {
    expect(() => parsePolicyYaml('version: [1', 'p.yaml')).toThrow(
      /p\.yaml: invalid validator policy:\n {2}- \(file\): not valid YAML/,
    );
  });
});
