// `wattproof-agent update`: install a signed update bundle (root only: it writes
// /usr/lib/wattproof-agent and restarts the service), process the update inbox, finish an
// interrupted update, or show what is installed. See docs/operations.md, "Updates".
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { DEFAULT_RELEASE_KEY_FILE, readPinnedReleaseKeys, UpdateBundleError } from '../update/bundle.js';
import { defaultHealthCheck, restartAgentService } from '../update/health.js';
import { processInbox } from '../update/inbox.js';
import { UpdateInstaller, type UpdateOutcome } from '../update/installer.js';
import { isVersion } from '../update/version.js';
import { CommandFailure, runCommand } from './common.js';

interface UpdateOptions {
  root: string;
  releaseKey?: string;
  inbox?: string;
  recover?: boolean;
  status?: boolean;
  allowDowngrade?: boolean;
  restart: boolean;
  json?: boolean;
}

function gatewayArch(): 'amd64' | 'arm64' {
  if (process.arch === 'x64') return 'amd64';
  if (process.arch === 'arm64') return 'arm64';
  throw new CommandFailure(
    `updates are built for amd64 and arm64; this machine is ${process.arch}`,
    ExitCode.failure,
  );
}

function outcomeLine(r: UpdateOutcome): string {
  switch (r.outcome) {
    case 'installed':
      return `installed ${r.version} (was ${r.previous ?? 'none'})`;
    case 'rolled-back':
      return `rolled back: ${r.version} did not come up healthy (${r.detail}); running ${r.previous ?? 'nothing'}`;
    case 'refused':
      return `refused (${r.reason}): ${r.detail}`;
  }
}

function exitFor(results: UpdateOutcome[]): ExitCode {
  return results.every((r) => r.outcome === 'installed') ? ExitCode.ok : ExitCode.failure;
}

export function register(program: Command): void {
  program
    .command('update')
    .description('Install a signed update bundle (as root), with rollback if it does not come up healthy')
    .argument('[bundle]', 'the .wpupdate file to install')
    .option(
      '--inbox <dir>',
      'install every bundle in this directory (what wattproof-agent-update.service runs)',
    )
    .option('--recover', 'finish an update that a power cut or crash interrupted')
    .option('--status', 'show the installed releases and which one runs')
    .option('--release-key <file>', `pinned release public keys (default ${DEFAULT_RELEASE_KEY_FILE})`)
    .option('--allow-downgrade', 'accept a bundle that is not newer than the running release')
    .option('--no-restart', 'do not restart the service (only the new release itself is checked)')
    .option('--root <dir>', 'filesystem root of the installation (for tests and images)', '/')
    .option('--json', 'print the outcome as JSON')
    .action((bundle: string | undefined, opts: UpdateOptions) =>
      runCommand('update', async () => {
        const root = path.resolve(opts.root);
        const keyFile = opts.releaseKey ?? path.join(root, DEFAULT_RELEASE_KEY_FILE);
        let pinnedKeys: Uint8Array[];
        try {
          pinnedKeys = readPinnedReleaseKeys(keyFile);
        } catch (err) {
          if (err instanceof UpdateBundleError) throw new CommandFailure(err.message, ExitCode.config);
          throw err;
        }
        const say = (line: string) => process.stderr.write(`wattproof-agent update: ${line}\n`);
        const installer = new UpdateInstaller({
          root,
          pinnedKeys,
          arch: gatewayArch(),
          nodeMajor: Number.parseInt(process.versions.node, 10),
          restart: opts.restart ? () => restartAgentService() : async () => {},
          healthCheck: opts.restart
            ? defaultHealthCheck
            : async (ctx) => (await import('../update/health.js')).versionAnswers(ctx),
          log: say,
        });
        const print = (value: unknown, text: string) =>
          process.stdout.write(opts.json ? `${JSON.stringify(value)}\n` : `${text}\n`);

        if (opts.status) {
          let releases: string[] = [];
          try {
            releases = readdirSync(installer.releasesDir).filter(isVersion);
          } catch {
            releases = [];
          }
          let pending: unknown = null;
          try {
            pending = JSON.parse(readFileSync(installer.pendingFile, 'utf8'));
          } catch {
            pending = null;
          }
          const current = installer.currentVersion() ?? null;
          print(
            { current, releases, pending, releaseKeys: pinnedKeys.length },
            `current: ${current ?? 'none'}\nreleases: ${releases.join(', ') || 'none'}\npinned release keys: ${pinnedKeys.length}${pending ? '\nan update is pending (run --recover)' : ''}`,
          );
          return ExitCode.ok;
        }
        if (opts.recover) {
          const r = await installer.recover();
          print(r ?? { outcome: 'nothing-pending' }, r ? outcomeLine(r) : 'no interrupted update');
          return r ? exitFor([r]) : ExitCode.ok;
        }
        if (opts.inbox) {
          const recovered = await installer.recover();
          const results = await processInbox(opts.inbox, installer);
          const all = [...(recovered ? [recovered] : []), ...results.map((r) => r.result)];
          print(
            results,
            results.map((r) => `${r.file}: ${outcomeLine(r.result)}`).join('\n') || 'no bundles',
          );
          return exitFor(all);
        }
        if (!bundle)
          throw new CommandFailure(
            'name a bundle file, or use --inbox, --recover or --status',
            ExitCode.usage,
          );
        let bytes: Uint8Array;
        try {
          bytes = readFileSync(bundle);
        } catch (err) {
          throw new CommandFailure(`cannot read ${bundle}: ${(err as Error).message}`, ExitCode.failure);
        }
        const r = await installer.install(bytes, { allowDowngrade: opts.allowDowngrade === true });
        print(r, outcomeLine(r));
        return exitFor([r]);
      }),
    );
}
