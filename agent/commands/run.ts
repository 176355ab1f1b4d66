import { type Command, Option } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../config.js';
import { runCommand } from './common.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('Run the agent service in the foreground until SIGTERM or SIGINT')
    .option('-c, --config <file>', 'agent config file', DEFAULT_CONFIG_PATH)
    // Accelerated time, for tests and demos only: wall = origin + (now - origin) × scale.
    .addOption(new Option('--time-scale <factor>', 'accelerate time (tests and demos)').hideHelp())
    .addOption(new Option('--time-origin <ms>', 'origin of accelerated time, UTC ms').hideHelp())
    .action((opts: { config?: string; timeScale?: string; timeOrigin?: string }) =>
      runCommand('run', async () => (await import('../service.js')).runAgent(opts)),
    );
}
