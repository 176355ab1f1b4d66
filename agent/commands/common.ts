// What several commands share: loading the config (exit 3 on a bad file, nothing touched) and
// finding the state directory.
import { type AgentConfig, ConfigError, DEFAULT_CONFIG_PATH, loadAgentConfig } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { IdentityError } from '../identity.js';

/** Thrown by commands to end with a message and an exit code; cli.ts-style handlers print it. */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CommandFailure';
  }
}

export function loadConfigOrFail(file: string | undefined): AgentConfig {
  try {
    return loadAgentConfig(file ?? DEFAULT_CONFIG_PATH);
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandFailure(err.message, ExitCode.config);
    throw err;
  }
}

/** The state directory: --state-dir wins, else the config's gateway.stateDir. */
export function stateDirFrom(opts: { stateDir?: string; config?: string }): string {
  if (opts.stateDir) return opts.stateDir;
  return loadConfigOrFail(opts.config).gateway.stateDir;
}

/**
 * Runs a command body: CommandFailure and IdentityError become a message on stderr and an exit
 * code; anything else is a bug and propagates.
 */
export async function runCommand(name: string, body: () => Promise<ExitCode> | ExitCode): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    if (err instanceof CommandFailure) {
      process.stderr.write(`wattproof-agent ${name}: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof IdentityError) {
      process.stderr.write(`wattproof-agent ${name}: ${err.message}\n`);
      process.exitCode = ExitCode.identity;
    } else {
      throw err;
    }
  }
}
