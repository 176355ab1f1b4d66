/** Exit codes of `wattproof-agent`, documented in docs/agent-cli.md. Scripts rely on them. */
export const ExitCode = {
  /** Done, or all checks passed. */
  ok: 0,
  /** Ran, but something it checked or tried failed (a device unreachable, a doctor check red). */
  failure: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The configuration file is missing or invalid; nothing was touched. */
  config: 3,
  /** The gateway has no key yet, or refused to overwrite one. */
  identity: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
