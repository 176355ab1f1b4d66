#!/usr/bin/env node
// wattproof-hub: the hub program. Each command lives in its own file under hub/commands/
// and adds itself to the program; this file only composes them.
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { ExitCode } from './exit-codes.js';
import { packageVersion } from './version.js';

export function buildProgram(): Command {
  const program = new Command('wattproof-hub')
    .description('Wattproof hub: verified ingest, the ledger, contracts, the validator and the operator API')
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError()
    .exitOverride();
  for (const add of commands) add(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
