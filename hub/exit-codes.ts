/** Exit codes of `wattproof-hub`, documented in docs/hub-cli.md. Scripts rely on them. */
export const ExitCode = {
  /** Done, or all checks passed. */
  ok: 0,
  /** Ran, but something it checked or tried failed (verification found a broken entry, a check failed). */
  failure: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The configuration file is missing or invalid; nothing was touched. */
  config: 3,
  /** A key is missing, or the command refused to overwrite one. */
  identity: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
