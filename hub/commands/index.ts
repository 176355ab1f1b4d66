import type { Command } from 'commander';

/**
 * The hub's commands. Add one by writing `hub/commands/<name>.ts` that exports
 * `register(program)` and listing it here.
 */
export const commands: Array<(program: Command) => void> = [];
