#!/usr/bin/env node
// wattproof-agent: the gateway program. Each command lives in its own file under agent/commands/
// and adds itself to the program; this file only composes them.
import { Command, CommanderError } from 'commander';
import { loadCommands } from './commands/index.js';
import { ExitCode } from './exit-codes.js';
import { packageVersion } from './version.js';

/**
 * The program with every command, or with only `command` when that is one of them (so `run`
 * does not load the modules of the others; `--help` and unknown words get them all).
 */
export async function buildProgram(command?: string): Promise<Command> {
  const commands = await loadCommands(command);
  const program = new Command('wattproof-agent')
    .description('Wattproof gateway agent: reads the home’s meters, signs proofs, delivers them to the hub')
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError()
    .exitOverride();
  for (const add of commands) add(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv[0]);
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
