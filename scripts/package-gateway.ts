// `npm run package:gateway [-- --arch amd64|arm64] [--native PATH] [--out DIR] [--release-key FILE]`
//
// Builds the gateway's Debian package: the agent bundled by esbuild into one ES module, beside
// the only two packages that cannot be bundled because they load native code from their own
// directory (better-sqlite3 and @serialport/bindings-cpp), with the .node files for the target
// architecture only. The same runtime directory, tarred, is what a signed update bundle carries
// (agent/update/), and with --release-key the script signs one.
//
// Native code per architecture:
// - @serialport/bindings-cpp ships N-API prebuilds for linux-x64 and linux-arm64 inside its npm
//   package; they work with every Node.js version and are used as they are.
// - better-sqlite3 is compiled against one Node.js ABI (NODE_MODULE_VERSION) and one CPU. For
//   amd64 the script takes the one npm built in node_modules (it must be an x86-64 binary). For
//   arm64 no prebuild can be downloaded here and a cross-compiler is not installed, so the
//   script refuses unless --native names an aarch64 better_sqlite3.node (built on a Raspberry Pi
//   with the same Node.js major: `npm rebuild better-sqlite3`, then
//   node_modules/better-sqlite3/build/Release/better_sqlite3.node). The package's nodejs
//   dependency is pinned to the Node.js major that binary was built for.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export type DebArch = 'amd64' | 'arm64';

/** ELF e_machine values and Node's os.arch() names for the architectures we package. */
const ARCH = {
  amd64: { elfMachine: 0x3e, nodeArch: 'x64', prebuildDir: 'linux-x64', cpu: 'x86-64' },
  arm64: { elfMachine: 0xb7, nodeArch: 'arm64', prebuildDir: 'linux-arm64', cpu: 'aarch64' },
} as const;

/** NODE_MODULE_VERSION → Node.js major (https://nodejs.org/en/download/releases). */
const NODE_ABI_MAJOR: Record<number, number> = { 108: 18, 115: 20, 120: 21, 127: 22, 131: 23, 137: 24 };

/** Packages whose files stay outside the bundle, and dependencies they need only to build. */
const EXTERNAL = ['better-sqlite3', '@serialport/bindings-cpp'] as const;
const BUILD_ONLY_DEPENDENCIES = new Set(['prebuild-install', 'node-addon-api', 'node-gyp']);

export const RUNTIME_ENTRY = 'lib/wattproof-agent.mjs';
export const PACKAGE_NAME = 'wattproof-agent';

export class PackagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackagingError';
  }
}

export interface PackageGatewayOptions {
  /** The repository root (with node_modules/ and package.json). */
  repoRoot: string;
  arch: DebArch;
  /** An aarch64 (or x86-64) better_sqlite3.node to ship instead of the one in node_modules. */
  nativeSqlite?: string;
  /** Where the .deb and the runtime tarball go; dist/packages by default. */
  outDir?: string;
  /** The package version; package.json's by default. */
  version?: string;
  log?: (line: string) => void;
}

export interface GatewayPackage {
  version: string;
  arch: DebArch;
  /** The .deb file. */
  debFile: string;
  /** The runtime tarball (what a signed update bundle carries). */
  runtimeTarball: string;
  /** The staged package tree (kept for inspection). */
  stageDir: string;
  /** The Node.js major the native sqlite module needs. */
  nodeMajor: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root whether this runs from scripts/ (vitest) or dist/scripts/ (npm run). */
export function findRepoRoot(from: string = here): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && existsSync(path.join(dir, 'deploy', 'gateway'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new PackagingError(`no repository root above ${from}`);
    dir = up;
  }
}

/** The e_machine field of an ELF file, or undefined when it is not ELF. */
export function elfMachine(file: string): number | undefined {
  const head = readFileSync(file).subarray(0, 20);
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  // EI_DATA (byte 5): 1 = little endian, 2 = big endian.
  return head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
}

/** The NODE_MODULE_VERSION a native addon registers itself for, or undefined for N-API. */
export function nodeModuleVersion(file: string): number | undefined {
  const m = /node_register_module_v(\d+)/.exec(readFileSync(file).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string };
    if (e.code === 'ENOENT')
      throw new PackagingError(`${cmd} is not installed (needed to build the package)`);
    throw new PackagingError(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Finds a package's directory the way Node would from `fromDir` (walking up node_modules). */
function resolvePackageDir(name: string, fromDir: string, repoRoot: string): string {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.resolve(dir) === path.resolve(repoRoot)) break;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new PackagingError(
    `cannot find the package ${name} (needed at run time) from ${fromDir}; run npm ci`,
  );
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

/** Files of a package that never run: sources, docs, tests, build files. */
function keepFile(rel: string, pkgName: string, arch: DebArch): boolean {
  const parts = rel.split(path.sep);
  const top = parts[0] ?? '';
  if (top === 'node_modules') return false;
  if (
    ['test', 'tests', 'docs', 'doc', 'benchmark', 'benchmarks', 'example', 'examples', '.github'].includes(
      top,
    )
  )
    return false;
  // better-sqlite3's C++ sources and the SQLite amalgamation are only needed to compile it.
  if (pkgName === 'better-sqlite3' && (top === 'src' || top === 'deps')) return false;
  if (top === 'build') return false; // the native file is copied on its own
  if (top === 'prebuilds') {
    // Only the target's glibc prebuild (Debian and Raspberry Pi OS are glibc).
    const isDir = rel.endsWith(path.sep);
    if (isDir) return parts.length === 2 || parts[1] === ARCH[arch].prebuildDir;
    return parts[1] === ARCH[arch].prebuildDir && /glibc\.node$/.test(rel);
  }
  if (/\.(md|markdown|ts|map|gyp|gypi|cc|cpp|h|c)$/i.test(rel) && !/^license/i.test(path.basename(rel))) {
    return false;
  }
  return true;
}

function copyTree(src: string, dest: string, keep: (rel: string) => boolean, rel = ''): void {
  for (const name of readdirSync(path.join(src, rel))) {
    const r = path.join(rel, name);
    const full = path.join(src, r);
    const st = statSync(full);
    if (st.isDirectory()) {
      if (!keep(`${r}${path.sep}`)) continue;
      copyTree(src, dest, keep, r);
    } else if (st.isFile() && keep(r)) {
      mkdirSync(path.dirname(path.join(dest, r)), { recursive: true });
      copyFileSync(full, path.join(dest, r));
      chmodSync(path.join(dest, r), st.mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

/**
 * Copies the external packages and their run-time dependency closure into `runtimeDir`'s
 * node_modules, each at the same relative place it has under the repository's node_modules (so
 * Node resolves every require exactly as it does here).
 */
function copyExternalPackages(repoRoot: string, runtimeDir: string, arch: DebArch): string[] {
  const copied: string[] = [];
  const seen = new Set<string>();
  const queue = EXTERNAL.map((name) => resolvePackageDir(name, repoRoot, repoRoot));
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    const rel = path.relative(repoRoot, dir);
    copyTree(dir, path.join(runtimeDir, rel), (r) => keepFile(r, pkg.name, arch));
    copied.push(`${pkg.name}@${pkg.version}`);
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      if (!BUILD_ONLY_DEPENDENCIES.has(dep)) queue.push(resolvePackageDir(dep, dir, repoRoot));
    }
  }
  return copied.sort();
}

/** Chooses and checks the better-sqlite3 binary for the target; returns it and its Node.js major. */
function chooseSqliteNative(opts: PackageGatewayOptions): { source: string; major: number } {
  const target = ARCH[opts.arch];
  let source = opts.nativeSqlite;
  if (source === undefined) {
    if (opts.arch === 'arm64') {
      throw new PackagingError(
        'arm64 needs a better_sqlite3.node built for aarch64: no prebuild can be downloaded here and no ' +
          'cross-compiler is installed. On an arm64 machine (a Raspberry Pi with a 64-bit OS and Node.js 20), ' +
          "`npm ci && npm run package:gateway` builds the arm64 package directly; or copy that machine's " +
          'node_modules/better-sqlite3/build/Release/better_sqlite3.node here and pass --native PATH.',
      );
    }
    source = path.join(opts.repoRoot, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  }
  if (!existsSync(source)) throw new PackagingError(`--native: ${source} does not exist`);
  const machine = elfMachine(source);
  if (machine !== target.elfMachine) {
    throw new PackagingError(
      `${source} is not an ${target.cpu} Linux binary (ELF machine ${machine === undefined ? 'none' : `0x${machine.toString(16)}`}); ` +
        `the ${opts.arch} package needs a better_sqlite3.node built for ${target.cpu}`,
    );
  }
  const abi = nodeModuleVersion(source);
  const major = abi === undefined ? undefined : NODE_ABI_MAJOR[abi];
  if (major === undefined) {
    throw new PackagingError(
      `${source} registers for NODE_MODULE_VERSION ${abi ?? '(none found)'}, which is not a Node.js release this script knows`,
    );
  }
  if (major < 20)
    throw new PackagingError(`${source} was built for Node.js ${major}; the agent needs Node.js 20 or later`);
  return { source, major };
}

/** Bundles the agent (TypeScript source, so no tsc run is needed) into one ES module. */
async function bundleAgent(repoRoot: string, outfile: string): Promise<void> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: [path.join(repoRoot, 'agent/cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: [...EXTERNAL],
    // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins
    // and for the external packages; give them a real one, and the CommonJS path globals.
    banner: {
      js: [
        "import { createRequire as __wpCreateRequire } from 'node:module';",
        "import { fileURLToPath as __wpFileURLToPath } from 'node:url';",
        "import { dirname as __wpDirname } from 'node:path';",
        'const require = __wpCreateRequire(import.meta.url);',
        'const __filename = __wpFileURLToPath(import.meta.url);',
        'const __dirname = __wpDirname(__filename);',
      ].join('\n'),
    },
    legalComments: 'eof',
    // Smaller, but names are kept so stack traces in the journal stay readable.
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    logLevel: 'silent',
  });
  const problems = [...result.errors, ...result.warnings].map((m) => m.text);
  if (result.errors.length > 0) throw new PackagingError(`esbuild: ${problems.join('; ')}`);
}

function dirSizeKiB(dir: string): number {
  let bytes = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      const st = statSync(full, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(full);
      else bytes += st.size;
    }
  };
  walk(dir);
  return Math.ceil(bytes / 1024);
}

/**
 * Builds the runtime directory of one release: lib/wattproof-agent.mjs, package.json (so the
 * agent's --version reads the right version), node_modules with the native packages.
 */
export async function buildRuntime(
  opts: PackageGatewayOptions & { runtimeDir: string },
): Promise<{ nodeMajor: number; packages: string[] }> {
  const version = opts.version ?? readPackageVersion(opts.repoRoot);
  // Refuse a missing or wrong native binary before spending time on the bundle.
  const sqlite = chooseSqliteNative(opts);
  rmSync(opts.runtimeDir, { recursive: true, force: true });
  mkdirSync(path.join(opts.runtimeDir, 'lib'), { recursive: true });
  await bundleAgent(opts.repoRoot, path.join(opts.runtimeDir, RUNTIME_ENTRY));
  writeFileSync(
    path.join(opts.runtimeDir, 'package.json'),
    `${JSON.stringify({ name: 'wattproof', version, private: true, type: 'module', engines: { node: '>=20' } }, null, 2)}\n`,
  );
  const packages = copyExternalPackages(opts.repoRoot, opts.runtimeDir, opts.arch);
  const dest = path.join(opts.runtimeDir, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(sqlite.source, dest);
  chmodSync(dest, 0o644);
  return { nodeMajor: sqlite.major, packages };
}

export function readPackageVersion(repoRoot: string): string {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
  return pkg.version;
}

/** A deterministic gzip'd tar of a directory's contents (sorted, owned by root, fixed mtime). */
export function tarDirectory(dir: string, outFile: string, mtime = '@0'): void {
  mkdirSync(path.dirname(outFile), { recursive: true });
  run('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    `--mtime=${mtime}`,
    '-czf',
    outFile,
    '-C',
    dir,
    '.',
  ]);
}

function controlFile(f: { version: string; arch: DebArch; nodeMajor: number; installedKiB: number }): string {
  return [
    `Package: ${PACKAGE_NAME}`,
    `Version: ${f.version}`,
    `Architecture: ${f.arch}`,
    'Maintainer: Wattproof maintainers <maintainers@wattproof.invalid>',
    `Installed-Size: ${f.installedKiB}`,
    // The native sqlite module is built for one Node.js ABI: the major it was built with.
    // ca-certificates: the hub's broker is mqtts:// and Debian's Node.js reads the system CAs.
    `Depends: nodejs (>= ${f.nodeMajor}), nodejs (<< ${f.nodeMajor + 1}), ca-certificates, passwd`,
    'Recommends: systemd, udev',
    'Section: net',
    'Priority: optional',
    'Homepage: https://wattproof.invalid/',
    'Description: Wattproof home gateway agent',
    ' Reads the home’s energy meters over Modbus RTU and TCP, signs one proof per meter and',
    ' settlement interval with the gateway’s Ed25519 key, keeps them in a local outbox and',
    ' delivers them to the Wattproof hub over MQTT until the hub’s ledger has them.',
    '',
  ].join('\n');
}

/** Builds the .deb for one architecture. */
export async function packageGateway(opts: PackageGatewayOptions): Promise<GatewayPackage> {
  const log = opts.log ?? (() => {});
  const repoRoot = opts.repoRoot;
  const version = opts.version ?? readPackageVersion(repoRoot);
  const outDir = opts.outDir ?? path.join(repoRoot, 'dist', 'packages');
  const deploy = path.join(repoRoot, 'deploy', 'gateway');
  const stageDir = path.join(outDir, `.stage-${PACKAGE_NAME}_${version}_${opts.arch}`);
  rmSync(stageDir, { recursive: true, force: true });

  const libDir = path.join(stageDir, 'usr/lib', PACKAGE_NAME);
  const runtimeDir = path.join(libDir, 'releases', version);
  log(`bundling the agent ${version} for ${opts.arch}`);
  const { nodeMajor, packages } = await buildRuntime({ ...opts, version, runtimeDir });
  log(`native and external packages: ${packages.join(', ')}; Node.js ${nodeMajor}`);
  symlinkSync(path.join('releases', version), path.join(libDir, 'current'));

  const put = (from: string, to: string, mode: number): void => {
    const dest = path.join(stageDir, to);
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(from, dest);
    chmodSync(dest, mode);
  };
  put(path.join(deploy, 'wattproof-agent'), 'usr/bin/wattproof-agent', 0o755);
  // Kept on the gateway for re-running a failed first boot by hand.
  put(path.join(deploy, 'first-run.sh'), `usr/share/${PACKAGE_NAME}/first-run.sh`, 0o755);
  for (const unit of [
    'wattproof-agent.service',
    'wattproof-agent-update.path',
    'wattproof-agent-update.service',
  ]) {
    put(path.join(deploy, 'systemd', unit), `usr/lib/systemd/system/${unit}`, 0o644);
  }
  put(
    path.join(deploy, 'udev/70-wattproof-rs485.rules'),
    'usr/lib/udev/rules.d/70-wattproof-rs485.rules',
    0o644,
  );
  put(path.join(repoRoot, 'deploy/agent/agent.example.yaml'), 'etc/wattproof/agent.yaml.example', 0o644);
  chmodSync(path.join(stageDir, 'etc/wattproof'), 0o750);
  const docDir = `usr/share/doc/${PACKAGE_NAME}`;
  for (const doc of ['installer.md', 'operations.md', 'agent-config.md']) {
    const src = path.join(repoRoot, 'docs', doc);
    if (existsSync(src)) put(src, `${docDir}/${doc}`, 0o644);
  }
  put(path.join(deploy, 'debian/copyright'), `${docDir}/copyright`, 0o644);

  const debian = path.join(stageDir, 'DEBIAN');
  mkdirSync(debian, { recursive: true });
  for (const script of ['postinst', 'prerm', 'postrm'])
    put(path.join(deploy, 'debian', script), `DEBIAN/${script}`, 0o755);
  writeFileSync(path.join(debian, 'conffiles'), '/etc/wattproof/agent.yaml.example\n');
  const installedKiB = dirSizeKiB(path.join(stageDir, 'usr')) + dirSizeKiB(path.join(stageDir, 'etc'));
  writeFileSync(
    path.join(debian, 'control'),
    controlFile({ version, arch: opts.arch, nodeMajor, installedKiB }),
  );
  // Directories 0755, so the archive does not depend on this machine's umask.
  for (const d of ['usr', 'DEBIAN'])
    run('find', [path.join(stageDir, d), '-type', 'd', '-exec', 'chmod', '0755', '{}', '+']);
  chmodSync(stageDir, 0o755);

  mkdirSync(outDir, { recursive: true });
  const debFile = path.join(outDir, `${PACKAGE_NAME}_${version}_${opts.arch}.deb`);
  log(`dpkg-deb --build → ${debFile}`);
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stageDir, debFile]);

  const runtimeTarball = path.join(outDir, `${PACKAGE_NAME}_${version}_${opts.arch}.runtime.tar.gz`);
  tarDirectory(runtimeDir, runtimeTarball);
  return { version, arch: opts.arch, debFile, runtimeTarball, stageDir, nodeMajor };
}

function hostArch(): DebArch | undefined {
  if (process.arch === 'x64') return 'amd64';
  if (process.arch === 'arm64') return 'arm64';
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string' },
      native: { type: 'string' },
      out: { type: 'string' },
      'release-key': { type: 'string' },
      'min-version': { type: 'string' },
      'new-release-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      [
        'Usage: npm run package:gateway -- [--arch amd64|arm64] [--native better_sqlite3.node] [--out DIR]',
        '                                  [--release-key FILE [--min-version V]]',
        '  --arch         target architecture (default: this machine, amd64 here)',
        '  --native       better_sqlite3.node built for the target (required for arm64)',
        '  --out          output directory (default dist/packages)',
        '  --release-key  also write a signed update bundle (.wpupdate), signed with this release key',
        '  --min-version  oldest installed version the update bundle may be applied to',
        '  --new-release-key FILE  only create a release key pair: FILE (secret, 0600) and FILE.pub (to pin)',
        '',
      ].join('\n'),
    );
    return 0;
  }
  if (values['new-release-key']) {
    const { releaseKeyFiles } = await import('../agent/update/bundle.js');
    const { generateSecretKey } = await import('../protocol/index.js');
    const file = path.resolve(values['new-release-key']);
    if (existsSync(file)) {
      process.stderr.write(`package-gateway: ${file} exists; not replacing a release key\n`);
      return 1;
    }
    const keys = releaseKeyFiles(generateSecretKey());
    writeFileSync(file, keys.secretJson, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${file}.pub`, keys.publicLine, { mode: 0o644, flag: 'wx' });
    process.stdout.write(
      `release key ${keys.kid}: secret ${file} (keep it offline), public ${file}.pub (pin it on gateways as /etc/wattproof/release-key)\n`,
    );
    return 0;
  }
  const arch = (values.arch ?? hostArch()) as string | undefined;
  if (arch !== 'amd64' && arch !== 'arm64') {
    process.stderr.write(`package-gateway: --arch is amd64 or arm64, not ${arch ?? '(unknown host)'}\n`);
    return 2;
  }
  const repoRoot = findRepoRoot();
  try {
    const pkg = await packageGateway({
      repoRoot,
      arch,
      nativeSqlite: values.native,
      outDir: values.out ? path.resolve(values.out) : undefined,
      log: (l) => process.stdout.write(`package-gateway: ${l}\n`),
    });
    process.stdout.write(`${pkg.debFile}\n${pkg.runtimeTarball}\n`);
    if (values['release-key']) {
      const { readReleaseSecretKey, writeUpdateBundle } = await import('../agent/update/bundle.js');
      const secret = readReleaseSecretKey(values['release-key']);
      const bundleFile = pkg.runtimeTarball.replace(/\.runtime\.tar\.gz$/, '.wpupdate');
      writeUpdateBundle({
        tarball: readFileSync(pkg.runtimeTarball),
        version: pkg.version,
        arch: pkg.arch,
        nodeMajor: pkg.nodeMajor,
        minVersion: values['min-version'] ?? '0.0.0',
        secretKey: secret,
        outFile: bundleFile,
      });
      process.stdout.write(`${bundleFile}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof PackagingError || (err as Error).name === 'UpdateBundleError') {
      process.stderr.write(`package-gateway: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
