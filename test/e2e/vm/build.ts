/**
 * Builds (once per recipe) the e2e VM: Debian's own kernel as an uncompressed
 * vmlinux (PVH boot skips decompression) and a small uncompressed initramfs with
 * busybox, open-iscsi, e2fsprogs, their libraries and the needed modules.
 * Everything comes from Debian packages via `apt-get download`; artefacts are
 * cached under ${XDG_CACHE_HOME:-~/.cache}/scatter-e2e/<recipe hash>.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.js';
import { indexModules, loadOrder } from './modules.js';
import { EXTRA_MODULES, FILES, KERNEL_METAPACKAGE, MODULES, PACKAGES, PROGRAMS } from './recipe.js';

export interface VmArtefacts {
  vmlinux: string;
  /** Base initramfs; a per-run archive is appended to it. */
  initramfs: string;
  kernelRelease: string;
  modules: string[];
}

const HERE = dirname(fileURLToPath(import.meta.url));

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer; env?: NodeJS.ProcessEnv } = {}): Buffer {
  const r = spawnSync(cmd, args, { ...opts, maxBuffer: 512 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(-2000)}`);
  return r.stdout;
}

function recipeHash(): string {
  const h = createHash('sha256');
  for (const f of ['recipe.ts', 'build.ts', 'cpio.ts', 'modules.ts']) h.update(readFileSync(join(HERE, f)));
  return h.digest('hex').slice(0, 16);
}

export function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'scatter-e2e');
}

/** `apt-get download`, updating the package lists once if they are missing or stale. */
function aptDownload(dir: string, packages: string[]): void {
  const r = spawnSync('apt-get', ['download', ...packages], { cwd: dir });
  if (r.status === 0) return;
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['download', ...packages], { cwd: dir });
}

function kernelPackage(): string {
  const query = (): string => spawnSync('apt-cache', ['depends', KERNEL_METAPACKAGE]).stdout?.toString() ?? '';
  let out = query();
  if (!/Depends: linux-image-\d/.test(out)) {
    run('apt-get', ['update', '-qq']);
    out = query();
  }
  const m = /Depends: (linux-image-\d[^\s]*)/.exec(out);
  if (!m) throw new Error(`cannot resolve ${KERNEL_METAPACKAGE}: ${out}`);
  return m[1]!;
}

/**
 * The uncompressed kernel ELF from a bzImage: find the payload's magic and inflate it.
 * The payload goes through a file: xz stops reading at the end of its stream, and
 * feeding it the bzImage's trailing bytes through a pipe would fail with EPIPE.
 */
function extractVmlinux(bzImage: Buffer, scratch: string): Buffer {
  const xz = bzImage.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (xz >= 0) {
    writeFileSync(scratch, bzImage.subarray(xz));
    return run('xz', ['-dc', '--single-stream', '--', scratch]);
  }
  const zst = bzImage.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  if (zst >= 0) {
    writeFileSync(scratch, bzImage.subarray(zst));
    return run('zstd', ['-dcq', '--', scratch]);
  }
  const gz = bzImage.indexOf(Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
  if (gz >= 0) return gunzipSync(bzImage.subarray(gz));
  throw new Error('vmlinuz: no xz, zstd or gzip payload found');
}

// multipath-tools keeps its own libraries (libmultipath.so.0 and friends) in /lib.
const LIB_DIRS = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib'];

/** The staging root's copy of a library, by file name. */
function stagedLibrary(stage: string, name: string): string {
  for (const d of LIB_DIRS) {
    const p = join(stage, d, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`library ${name} is in none of the recipe's packages (add its package to PACKAGES in recipe.ts)`);
}

/** `name => path in the staging root` for every library a program loads (ldd, staging root first). */
function sharedLibraries(stage: string, program: string): Map<string, string> {
  const libPath = LIB_DIRS.map((d) => join(stage, d)).join(':');
  const out = run('ldd', [program], { env: { ...process.env, LD_LIBRARY_PATH: libPath } }).toString();
  const libs = new Map<string, string>();
  for (const line of out.split('\n')) {
    if (line.includes('not found')) throw new Error(`${program}: ${line.trim()}`);
    const m = /^\s*(\S+) => (\/\S+) \(/.exec(line) ?? /^\s*(\/\S+) \(/.exec(line);
    if (!m) continue;
    // Whatever ldd resolved (the loader always from the host), the file comes from the staging root.
    const name = (m[2] ? m[1]! : m[1]!.split('/').pop())!;
    libs.set(name, stagedLibrary(stage, name));
  }
  return libs;
}

function build(dest: string): void {
  const work = `${dest}.tmp-${process.pid}`;
  try {
    buildIn(work, dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function buildIn(work: string, dest: string): void {
  rmSync(work, { recursive: true, force: true });
  const debs = join(work, 'debs');
  const stage = join(work, 'stage');
  mkdirSync(debs, { recursive: true });
  mkdirSync(stage, { recursive: true });
  const kernelPkg = kernelPackage();
  aptDownload(debs, [kernelPkg, ...PACKAGES]);
  for (const deb of readdirSync(debs)) run('dpkg-deb', ['-x', join(debs, deb), stage]);

  const kernelRelease = kernelPkg.replace(/^linux-image-/, '');
  const payload = join(work, 'vmlinuz.payload');
  writeFileSync(join(work, 'vmlinux'), extractVmlinux(readFileSync(join(stage, 'boot', `vmlinuz-${kernelRelease}`)), payload));
  rmSync(payload);

  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'lib', 'lib64', 'lib/x86_64-linux-gnu', 'lib/modules',
    'lib/multipath', 'etc', 'etc/iscsi', 'etc/multipath', 'dev', 'proc', 'sys', 'tmp', 'run', 'run/lock', 'var', 'var/lib', 'var/lib/iscsi', 'var/lock', 'mnt']) {
    entries.push({ kind: 'dir', path: d });
  }
  entries.push({ kind: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  entries.push({ kind: 'file', path: 'bin/busybox', data: readFileSync(join(stage, 'bin/busybox')), mode: 0o755 });

  const libs = new Map<string, string>();
  for (const p of PROGRAMS) {
    entries.push({ kind: 'file', path: p, data: readFileSync(join(stage, p)), mode: 0o755 });
    for (const [name, path] of sharedLibraries(stage, join(stage, p))) libs.set(name, path);
  }
  for (const [name, path] of libs) {
    const data = readFileSync(realpathSync(path));
    if (name.startsWith('ld-linux')) entries.push({ kind: 'file', path: `lib64/${name}`, data, mode: 0o755 });
    else entries.push({ kind: 'file', path: `lib/x86_64-linux-gnu/${name}`, data, mode: 0o755 });
  }
  for (const f of FILES) entries.push({ kind: 'file', path: f, data: readFileSync(join(stage, f)) });

  const index = indexModules(join(stage, 'lib/modules', kernelRelease, 'kernel'));
  const order = loadOrder(index, MODULES);
  for (const m of order) entries.push({ kind: 'file', path: `lib/modules/${m}.ko`, data: readFileSync(index.get(m)!) });
  entries.push({ kind: 'file', path: 'etc/modules.order', data: Buffer.from(`${order.join('\n')}\n`) });
  const loaded = new Set(order);
  const extra = loadOrder(index, [...MODULES, ...EXTRA_MODULES]).filter((m) => !loaded.has(m));
  for (const m of extra) entries.push({ kind: 'file', path: `lib/modules/${m}.ko`, data: readFileSync(index.get(m)!) });
  entries.push({ kind: 'file', path: 'etc/modules.extra', data: Buffer.from(`${extra.join('\n')}\n`) });

  writeFileSync(join(work, 'initramfs.cpio'), writeCpio(entries));
  writeFileSync(join(work, 'meta.json'), JSON.stringify({ kernelPackage: kernelPkg, kernelRelease, modules: order }, null, 2));
  rmSync(debs, { recursive: true, force: true });
  rmSync(stage, { recursive: true, force: true });
  rmSync(dest, { recursive: true, force: true });
  renameSync(work, dest);
}

/** The cached VM artefacts for the current recipe, built first if missing. */
export function ensureVm(): VmArtefacts {
  const dest = join(cacheRoot(), recipeHash());
  if (!existsSync(join(dest, 'meta.json'))) {
    mkdirSync(cacheRoot(), { recursive: true });
    build(dest);
    // Older recipes' artefacts (~90 MB each) are not needed again.
    for (const old of readdirSync(cacheRoot())) {
      if (/^[0-9a-f]{16}$/.test(old) && join(cacheRoot(), old) !== dest) rmSync(join(cacheRoot(), old), { recursive: true, force: true });
    }
  }
  const meta = JSON.parse(readFileSync(join(dest, 'meta.json'), 'utf8')) as { kernelRelease: string; modules: string[] };
  return { vmlinux: join(dest, 'vmlinux'), initramfs: join(dest, 'initramfs.cpio'), ...meta };
}
