import type { Command } from 'commander';

/**
 * The agent's commands. Add one by writing `agent/commands/<name>.ts` that exports
 * `register(program)` and listing it here.
 */
export const commands: Array<(program: Command) => void> = [];
