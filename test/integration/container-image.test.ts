/**
 * docker/Dockerfile without Docker (this machine has no container engine): its COPY sources exist
 * in the build context and survive .dockerignore, the final stage runs as a non-root user and
 * carries what its CMD and HEALTHCHECK run, and those two commands, run from the repository root
 * (the image's /app) with the environment the image sets, serve and report health. Ports are
 * swapped for free ones and SCATTER_DATA_DIR for a temp dir; nothing else of the image's
 * environment changes. `docker build` and `docker run` themselves were never run here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/cli-proc.js';
import { copyArgs, envPairs, execForm, healthcheck, parseDockerfile, stages, type Stage } from '../helpers/dockerfile.js';
import { TestInitiator } from '../helpers/initiator.js';
import { waitUntil } from '../helpers/wait.js';

const ROOT = process.cwd();
const DOCKERFILE = join(ROOT, 'docker/Dockerfile');
const text = readFileSync(DOCKERFILE, 'utf8');
const all = stages(parseDockerfile(text));
const final: Stage = all.at(-1)!;
const of = (op: string) => final.instructions.filter((i) => i.op === op);
const imageEnv: Record<string, string> = Object.assign({}, ...of('ENV').map((i) => envPairs(i.args)));
const cmd = execForm(of('CMD').at(-1)!.args);
const check = healthcheck(of('HEALTHCHECK').at(-1)!.args);

interface Proc {
  child: ChildProcess;
  out: string;
  exited: Promise<number | null>;
}

/** Run an image command line from the repository root; `node` is this Node (20, as the image's). */
function run(argv: readonly string[], env: NodeJS.ProcessEnv): Proc {
  const [bin, ...args] = argv;
  const child = spawn(bin === 'node' ? process.execPath : bin!, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout!.on('data', (c: Buffer) => (p.out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (p.out += c.toString()));
  return p;
}

/** .dockerignore patterns (plain paths from the context root, as the file writes them). */
function ignored(path: string): boolean {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
  return patterns.some((p) => clean === p || clean.startsWith(`${p}/`));
}

describe('docker/Dockerfile', () => {
  it('reads as we expect: a build stage and a final stage from node:20-bookworm-slim, no sed edits of the config', () => {
    expect(all.map((s) => s.base)).toEqual(['node:20-bookworm-slim', 'node:20-bookworm-slim']);
    expect(all[0]!.name).toBe('build');
    expect(text).not.toMatch(/\bsed\b/);
    expect(text).not.toContain('${'); // no build args or variables: the parser does not expand them
  });

  it('every COPY source from the build context exists and is not excluded by .dockerignore', () => {
    const copies = all.flatMap((s) => s.instructions.filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args)));
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    expect(fromContext.length).toBeGreaterThan(4);
    for (const source of fromContext) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      expect(ignored(source), `${source} excluded by .dockerignore`).toBe(false);
    }
    // --from names a stage of this file.
    for (const c of copies.filter((c) => c.from !== undefined)) expect(all.map((s) => s.name)).toContain(c.from);
  });

  it('the final stage runs as a non-root user, holds what CMD and HEALTHCHECK run, exposes the ports and the data volume the environment names', () => {
    const user = of('USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(of('WORKDIR').at(-1)!.args).toBe('/app');
    // Where the final stage's COPYs land, relative to /app: into a `dir/` each source by its name, else the destination.
    const landed = of('COPY').flatMap((i) => {
      const c = copyArgs(i.args);
      const dest = c.dest.replace(/^\.\/?/, '');
      return c.dest.endsWith('/') ? c.sources.map((s) => join(dest, basename(s))) : [dest];
    });
    const inImage = (path: string) => landed.some((d) => path === d || path.startsWith(`${d}/`));
    expect(cmd[0]).toBe('node');
    expect(inImage(cmd[1]!), `${cmd[1]} is copied into the image`).toBe(true);
    expect(check.command[0]).toBe('node');
    expect(inImage(check.command[1]!), `${check.command[1]} is copied into the image`).toBe(true);
    expect(inImage(imageEnv.SCATTER_CONFIG!), `${imageEnv.SCATTER_CONFIG} is copied into the image`).toBe(true);
    const port = (v: string | undefined) => Number(/:(\d+)$/.exec(v ?? '')?.[1]);
    expect(of('EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number)).toEqual([port(imageEnv.SCATTER_PORTAL), port(imageEnv.SCATTER_ADMIN)]);
    expect(execForm(of('VOLUME').at(-1)!.args)).toEqual([imageEnv.SCATTER_DATA_DIR]);
    expect(imageEnv.SCATTER_PORTAL).toMatch(/^0\.0\.0\.0:/);
    expect(imageEnv.SCATTER_ADMIN).toMatch(/^0\.0\.0\.0:/);
    expect(Object.keys(check.options).sort()).toEqual(['interval', 'retries', 'start-period', 'timeout']);
  });
});

describe('the image commands, run here', () => {
  let dir: string;
  let server: Proc | undefined;
  beforeAll(() => {
    if (!existsSync(join(ROOT, cmd[1]!))) throw new Error(`${cmd[1]} missing: run \`npm run build\``);
    dir = mkdtempSync(join(tmpdir(), 'scatter-image-'));
  });
  afterEach(() => {
    server?.child.kill('SIGKILL');
    server = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('CMD serves the shipped config on the portal and admin address of the environment, data in SCATTER_DATA_DIR; HEALTHCHECK says healthy, then unhealthy once it stops', async () => {
    const [portalPort, adminPort] = [await freePort(), await freePort()];
    const host = (v: string | undefined) => v!.replace(/:\d+$/, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...imageEnv,
      SCATTER_PORTAL: `${host(imageEnv.SCATTER_PORTAL)}:${portalPort}`,
      SCATTER_ADMIN: `${host(imageEnv.SCATTER_ADMIN)}:${adminPort}`,
      SCATTER_DATA_DIR: dir,
    };
    server = run(cmd, env);
    let exit: number | null | undefined;
    void server.exited.then((c) => (exit = c));
    await waitUntil(async () => {
      if (exit !== undefined) throw new Error(`CMD exited (${exit}): ${server!.out}`);
      return fetch(`http://127.0.0.1:${adminPort}/healthz`).then((r) => r.ok, () => false);
    }, `CMD's /healthz answers on ${adminPort}`);

    // The shipped target, on the environment's portal, its LUN on the "volume".
    const i = await TestInitiator.connect(portalPort);
    expect((await i.login({ targetName: 'iqn.2026-11.io.scatter:default' })).status).toEqual([0, 0]);
    i.close();
    expect(statSync(join(dir, 'lun0.img')).size).toBe(1024 ** 3);
    expect(existsSync(join(dir, 'state', 'admin-token'))).toBe(true);

    const healthy = run(check.command, env);
    expect(await healthy.exited, healthy.out).toBe(0);

    server.child.kill('SIGTERM');
    expect(await server.exited, server.out).toBe(0);
    const down = run(check.command, env);
    expect(await down.exited).toBe(1);
    expect(down.out).toContain(`healthcheck http://127.0.0.1:${adminPort}/healthz`);
  });
});
