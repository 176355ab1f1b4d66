import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * The agent's commands, one file each, in the order `--help` lists them. Add a command by
 * writing `agent/commands/<name>.ts` that exports `register(program)` and listing it here.
 * Each is loaded only when needed: `run`, the long-lived service, loads nothing the other
 * commands use (the QR code library, the bus scanner, the updater), which keeps the resident
 * memory of a gateway down.
 */
export const commandLoaders: ReadonlyArray<{ name: string; load: () => Promise<{ register: Register }> }> = [
  { name: 'init', load: () => import('./init.js') },
  { name: 'scan', load: () => import('./scan.js') },
  { name: 'read', load: () => import('./read.js') },
  { name: 'enroll', load: () => import('./enroll.js') },
  { name: 'run', load: () => import('./run.js') },
  { name: 'status', load: () => import('./status.js') },
  { name: 'doctor', load: () => import('./doctor.js') },
  { name: 'keys', load: () => import('./keys.js') },
  { name: 'update', load: () => import('./update.js') },
];

/** The register functions of every command, or of `only` when it names one. */
export async function loadCommands(only?: string): Promise<Register[]> {
  const chosen = commandLoaders.filter((c) => c.name === only);
  const list = chosen.length > 0 ? chosen : commandLoaders;
  return Promise.all(list.map(async (c) => (await c.load()).register));
}
