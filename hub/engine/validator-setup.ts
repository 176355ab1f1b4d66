// The validator the engine runs with, from the hub's configuration: the policy file, and — when
// the policy manages congestion — the grid model file and HiGHS, with the congestion step. An
// error names the config key to fix.
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';
import { type GridModel, readGridModelFile } from '../validator/congestion/grid-model.js';
import { loadSolver } from '../validator/congestion/lp.js';
import { readPolicyFile } from '../validator/policy.js';
import { Validator } from '../validator/validator.js';
import { CongestionStep } from './congestion-step.js';

export interface ValidatorSetupOptions {
  secretKey: Uint8Array;
  /** engine.validatorPolicyFile */
  policyFile: string;
  /** engine.gridModelFile */
  gridModelFile?: string;
  currency: string;
  /** engine.congestionPeriodSeconds, in ms. */
  congestionPeriodMs: number;
  /** engine.congestionLeadSeconds, in ms. */
  congestionLeadMs: number;
  log: Logger;
}

/** A configuration error (the hub exits with the configuration's exit code, 3). */
export class ValidatorSetupError extends ConfigError {
  override name = 'ValidatorSetupError';
}

function readOrExplain<T>(key: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ValidatorSetupError(`${key}: ${e.code === 'ENOENT' ? `no such file ${e.path}` : e.message}`);
  }
}

/** Reads the policy (and grid model), loads HiGHS when congestion is managed, builds the step. */
export async function setUpValidator(
  o: ValidatorSetupOptions,
): Promise<{ validator: Validator; congestion?: CongestionStep }> {
  const policy = readOrExplain('engine.validatorPolicyFile', () => readPolicyFile(o.policyFile));
  const gridFile = o.gridModelFile;
  const gridModel: GridModel | undefined =
    gridFile === undefined
      ? undefined
      : readOrExplain('engine.gridModelFile', () => readGridModelFile(gridFile));
  if (policy.congestion !== undefined && gridModel === undefined)
    throw new ValidatorSetupError(
      `engine.gridModelFile: required, because the validator policy ${o.policyFile} has a congestion section; name the grid model file (docs/validator.md, "The grid model file") or remove the policy's congestion section`,
    );
  // Settlement applies an adjustment to the contract interval that holds it, so a congestion
  // interval must fit inside every contract interval the policy allows (the periods divide).
  const shortest = Math.min(...policy.contracts.settlementPeriodsMs);
  if (policy.congestion !== undefined && o.congestionPeriodMs > shortest)
    throw new ValidatorSetupError(
      `engine.congestionPeriodSeconds: ${o.congestionPeriodMs / 1000} is longer than the shortest settlement period the policy allows (${shortest / 1000} s, contracts.settlementPeriodsMs); use ${shortest / 1000} or less`,
    );
  const highs = policy.congestion !== undefined ? await loadSolver() : undefined;
  const validator = new Validator({
    secretKey: o.secretKey,
    policy,
    currency: o.currency,
    ...(gridModel ? { gridModel } : {}),
    ...(highs ? { highs } : {}),
  });
  if (policy.congestion === undefined || gridModel === undefined || highs === undefined) return { validator };
  const congestion = new CongestionStep({
    validator,
    gridModel,
    highs,
    periodMs: o.congestionPeriodMs,
    leadMs: o.congestionLeadMs,
    log: o.log,
  });
  return { validator, congestion };
}
