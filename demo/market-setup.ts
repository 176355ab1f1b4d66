// What the demo's validator and market run with. The validator's policy is the sample
// (deploy/hub/validator-policy.example.yaml) adapted to a neighbourhood in accelerated time: its
// region is the sample grid's region with the grid's buses, the lead time and settlement period
// follow the demo's interval (an hour's lead time would be an hour of the user's time at ×1 and
// longer than a whole run at 1-minute intervals), and the congestion section is left out (the
// hub's engine runs no congestion decisions yet). Written to DATA/validator-policy.yaml at each
// start, so what the hub checks against is on disk to read.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type MarketRules, marketRules } from '../hub/markets/rules.js';
import type { GridModel } from '../hub/validator/congestion/grid-model.js';
import { parsePolicy, policyHashOf, type ValidatorPolicy } from '../hub/validator/policy.js';

export const POLICY_FILE = 'validator-policy.yaml';
export const CURRENCY = 'EUR';

export interface DemoTerms {
  periodMs: number;
  /** Least time between a contract's review and its window's start. */
  leadTimeMs: number;
  /** An auction's gate closes this long before its interval. */
  gateClosureLeadMs: number;
  /** How long a settled contract may be disputed before it closes. */
  disputeWindowMs: number;
}

/** The timing every contract and order of the demo follows, from the settlement period. */
export function demoTerms(periodMs: number): DemoTerms {
  return {
    periodMs,
    leadTimeMs: Math.round(periodMs / 10),
    gateClosureLeadMs: Math.round(periodMs / 2),
    // Long enough to look at a settled contract in the dashboard, short enough to see it close.
    disputeWindowMs: 4 * periodMs,
  };
}

/** The region every home is in: the sample grid's (its first bus's) region. */
export function regionOf(grid: GridModel): string {
  return grid.buses[0]?.region ?? 'north';
}

/**
 * The sample policy adapted to the demo, written to `dataDir/validator-policy.yaml`; undefined
 * when the sample is not there (the hub then runs the simple rule sets).
 */
export function writeDemoPolicy(
  sampleFile: string,
  dataDir: string,
  grid: GridModel,
  terms: DemoTerms,
): { file: string; policy: ValidatorPolicy } | undefined {
  if (!existsSync(sampleFile)) return undefined;
  const raw = parseYaml(readFileSync(sampleFile, 'utf8')) as Record<string, unknown> & {
    name: string;
    registration: Record<string, unknown>;
    contracts: Record<string, unknown>;
  };
  const { congestion: _left, ...rest } = raw;
  const adapted = {
    ...rest,
    name: `${raw.name}-demo`,
    registration: {
      ...raw.registration,
      regions: { [regionOf(grid)]: { gridNodes: grid.buses.map((b) => b.id) } },
    },
    contracts: {
      ...raw.contracts,
      leadTimeMs: terms.leadTimeMs,
      settlementPeriodsMs: [terms.periodMs],
      minDisputeWindowMs: Math.min(Number(raw.contracts.minDisputeWindowMs ?? 0), terms.disputeWindowMs),
    },
  };
  const policy = parsePolicy(adapted, `${sampleFile} adapted for the demo`);
  const file = path.join(dataDir, POLICY_FILE);
  writeFileSync(
    file,
    `# Written by the demo at each start: ${path.basename(sampleFile)} with the demo's region, lead time,\n# settlement period and dispute window, without congestion. Hash ${policyHashOf(policy)}.\n${stringifyYaml(adapted)}`,
    { mode: 0o644 },
  );
  return { file, policy };
}

/** Pay-as-clear auctions once per interval, at the demo's timing. */
export function demoMarketRules(terms: DemoTerms): MarketRules {
  return marketRules({
    currency: CURRENCY,
    settlementPeriodMs: terms.periodMs,
    gateClosureLeadMs: terms.gateClosureLeadMs,
    mode: 'auction',
    disputeWindowMs: terms.disputeWindowMs,
    // Orders are signed on the demo's clock, which the hub shares.
    maxClockSkewMs: terms.periodMs,
  });
}
