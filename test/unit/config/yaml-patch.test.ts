import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig, stringifyConfig, validateConfig, type Config } from '../../../src/config/load.js';
import { canonicalJson } from '../../../src/config/revision.js';
import { defaultKeyOf, patchYamlText, type YamlPath } from '../../../src/config/yaml-patch.js';

const SHIPPED = readFileSync(fileURLToPath(new URL('../../../config/scatter.yaml', import.meta.url)), 'utf8');
const IQN = 'iqn.2026-11.io.scatter:default';

/** The lines that differ between two texts, found by stripping their common first and last lines. */
function changedLines(a: string, b: string): { removed: string[]; added: string[] } {
  const x = a.split('\n');
  const y = b.split('\n');
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  return { removed: x.slice(head, x.length - tail), added: y.slice(head, y.length - tail) };
}

function edit(config: Config, change: (draft: Config) => void): Config {
  const draft = structuredClone(config);
  change(draft);
  return validateConfig(draft, 'edited');
}

/** Patch `text` from its own config to `change`d, and check the result reads back as exactly that. */
function patched(text: string, change: (draft: Config) => void): { text: string; after: Config } {
  const before = parseConfig(text, 'before');
  const after = edit(before, change);
  const out = patchYamlText(text, before, after);
  expect(canonicalJson(parseConfig(out, 'after'))).toBe(canonicalJson(after));
  return { text: out, after };
}

describe('patchYamlText on the shipped, commented config', () => {
  it('leaves the text byte for byte when nothing changed, however the file spells its values', () => {
    const config = parseConfig(SHIPPED, 'x');
    expect(patchYamlText(SHIPPED, config, structuredClone(config))).toBe(SHIPPED);
  });

  it("changes one LUN's size on its line only, in the file's unit style, the trailing layout kept", () => {
    const { text } = patched(SHIPPED, (c) => {
      const store = c.targets[0]!.luns[0]!.backstore;
      if (store.type !== 'file') throw new Error('fixture');
      store.size = 10 * 2 ** 30;
    });
    const diff = changedLines(SHIPPED, text);
    expect(diff.removed).toEqual(['        backstore: { type: file, path: ./data/lun0.img, size: 1GiB, blockSize: 512, writeCache: true, thin: false, create: once }']);
    expect(diff.added).toEqual(['        backstore: { type: file, path: ./data/lun0.img, size: 10GiB, blockSize: 512, writeCache: true, thin: false, create: once }']);
  });

  it('keeps a trailing comment in its column when a value changes length', () => {
    const { text } = patched(SHIPPED, (c) => {
      c.admin.port = 19470;
    });
    expect(changedLines(SHIPPED, text)).toEqual({
      removed: ['  port: 9470                      # must differ from every iSCSI portal on the same address'],
      added: ['  port: 19470                     # must differ from every iSCSI portal on the same address'],
    });
  });

  it('appends a new target after the last one; every other line stays', () => {
    const { text } = patched(SHIPPED, (c) => {
      c.targets.push(validateConfig({ targets: [{ iqn: 'iqn.2026-12.io.scatter:two', alias: 'two' }] }, 't').targets[0]!);
    });
    const diff = changedLines(SHIPPED, text);
    expect(diff.removed).toEqual([]);
    expect(diff.added[0]).toBe('  - iqn: iqn.2026-12.io.scatter:two');
    expect(diff.added).toContain('    alias: two');
    // Inserted right after the first target's last (comment) line, before the blank line.
    expect(text).toContain("# other LUNs on the same disk; 0 = as fast as the backstore writes\n  - iqn: iqn.2026-12.io.scatter:two\n");
  });

  it('removes a target together with the comment above it, giving back the original text', () => {
    const anchor = '0 = as fast as the backstore writes\n';
    const withTwo = SHIPPED.replace(anchor, `${anchor}  # The second target, kept for the test.\n  - iqn: iqn.2026-12.io.scatter:two   # two\n    alias: two\n    luns: []\n`);
    expect(withTwo).not.toBe(SHIPPED);
    const { text } = patched(withTwo, (c) => {
      c.targets = c.targets.filter((t) => t.iqn !== 'iqn.2026-12.io.scatter:two');
    });
    expect(text).toBe(SHIPPED);
  });

  it('removes the first of two targets, keeping the second and its comments', () => {
    const anchor = '0 = as fast as the backstore writes\n';
    const withTwo = SHIPPED.replace(anchor, `${anchor}  # The second target.\n  - iqn: iqn.2026-12.io.scatter:two   # two\n    alias: two\n`);
    const { text } = patched(withTwo, (c) => {
      c.targets = c.targets.filter((t) => t.iqn !== IQN);
    });
    expect(text).toContain('targets:\n  # The second target.\n  - iqn: iqn.2026-12.io.scatter:two   # two\n    alias: two\n\ndiscoveryAuth:');
    expect(text).not.toContain('lun0.img');
    expect(text.split('\n').slice(0, 54)).toEqual(SHIPPED.split('\n').slice(0, 54));
  });

  it('edits a scalar inside a flow map in place, its comment kept', () => {
    const before = parseConfig(SHIPPED, 'x');
    const after = edit(before, (c) => {
      c.iscsi.portals[0]!.host = '0.0.0.0';
    });
    // One portal, identified as such, so that its host can change in place.
    const keyOf = (path: YamlPath, item: unknown): string | undefined => (path.at(-1) === 'portals' ? 'the-one' : defaultKeyOf(path, item));
    const text = patchYamlText(SHIPPED, before, after, { keyOf });
    expect(changedLines(SHIPPED, text)).toEqual({
      removed: ['    - { host: 127.0.0.1, port: 3260 }   # loopback only; use 0.0.0.0 / :: to serve the network'],
      added: ['    - { host: 0.0.0.0, port: 3260 }     # loopback only; use 0.0.0.0 / :: to serve the network'],
    });
    expect(canonicalJson(parseConfig(text, 'y'))).toBe(canonicalJson(after));
  });

  it('adds a new portal in the flow style of the others; by default a portal is identified by host and port', () => {
    const { text } = patched(SHIPPED, (c) => {
      c.iscsi.portals.push({ host: '::', port: 3261 });
    });
    expect(changedLines(SHIPPED, text)).toEqual({ removed: [], added: ['    - { host: "::", port: 3261 }'] });
  });

  it('adds a key to a flow map, and keys absent from the file to the map that should hold them', () => {
    const { text } = patched(SHIPPED, (c) => {
      const store = c.targets[0]!.luns[0]!.backstore;
      if (store.type !== 'file') throw new Error('fixture');
      store.direct = true;
      c.iscsi.maxBufferedWriteBytesPerSession = 2 ** 25;
    });
    expect(text).toContain('thin: false, create: once, direct: true }\n');
    expect(text).toContain('    lockoutMs: 300000             # ... for this long; a success clears the count\n  maxBufferedWriteBytesPerSession: 32MiB\n\nmemory:');
  });

  it('changes a sequence without identity whole, on its line', () => {
    const { text } = patched(SHIPPED, (c) => {
      c.iscsi.dataDigest = ['None'];
    });
    expect(changedLines(SHIPPED, text)).toEqual({ removed: ['  dataDigest: [CRC32C, None]'], added: ['  dataDigest: [ None ]'] });
  });
});

describe('patchYamlText on small documents', () => {
  it('writes only what differs from the defaults into an empty file, keeping its comments', () => {
    const before = validateConfig({}, 'x');
    const after = edit(before, (c) => {
      c.admin.port = 9471;
    });
    expect(patchYamlText('', before, after)).toBe('admin:\n  port: 9471\n');
    expect(patchYamlText('# mine\n', before, after)).toBe('# mine\nadmin:\n  port: 9471\n');
    expect(patchYamlText('# mine', before, after)).toBe('# mine\nadmin:\n  port: 9471\n');
  });

  it('deletes keys of a flow map wherever they sit', () => {
    const text = 'a: { x: 1, y: 2, z: 3 } # c\n';
    // The comment keeps its column.
    expect(patchYamlText(text, { a: { x: 1, y: 2, z: 3 } }, { a: { x: 1, z: 3 } })).toBe('a: { x: 1, z: 3 }       # c\n');
    expect(patchYamlText(text, { a: { x: 1, y: 2, z: 3 } }, { a: { x: 1, y: 2 } })).toBe('a: { x: 1, y: 2 }       # c\n');
    expect(patchYamlText(text, { a: { x: 1, y: 2, z: 3 } }, { a: { z: 3 } })).toBe('a: { z: 3 }             # c\n');
    expect(patchYamlText(text, { a: { x: 1, y: 2, z: 3 } }, { a: { y: 2 } })).toBe('a: { y: 2 }             # c\n');
    expect(patchYamlText(text, { a: { x: 1, y: 2, z: 3 } }, { a: {} })).toBe('a: {}                   # c\n');
    expect(patchYamlText(text, { a: { x: 1, y: 2, z: 3 } }, { a: { x: 1, y: 2, z: 3, w: 'long value' } })).toBe('a: { x: 1, y: 2, z: 3, w: long value } # c\n');
  });

  it('deletes a block key with the comment lines above it, and the first key of a sequence item', () => {
    expect(patchYamlText('a: 1\n# about b\nb: 2 # b\nc: 3\n', { a: 1, b: 2, c: 3 }, { a: 1, c: 3 })).toBe('a: 1\nc: 3\n');
    expect(patchYamlText('- k: 1\n  v: 2\n', [{ k: 1, v: 2 }], [{ v: 2 }])).toBe('- v: 2\n');
    expect(patchYamlText('s:\n  - k: 1\n    v: 2\n    w: 3\n', { s: [{ k: 1, v: 2, w: 3 }] }, { s: [{ w: 3 }] })).toBe('s:\n  - w: 3\n');
  });

  it('quotes what would otherwise read back as another type or break a flow map', () => {
    const text = 'a: { s: x }\nb: y\n';
    for (const value of ['true', '12', 'a, b', '#x', 'k: v', ' padded ', '', 'null', 'multi\nline']) {
      const out = patchYamlText(text, { a: { s: 'x' }, b: 'y' }, { a: { s: value }, b: value });
      expect(parseYaml(out)).toEqual({ a: { s: value }, b: value });
    }
  });

  it('replaces a block collection by a scalar and back', () => {
    const text = 'a:\n  - 1\n  - 2\nb: 3\n';
    const once = patchYamlText(text, { a: [1, 2], b: 3 }, { a: 5, b: 3 });
    expect(once).toBe('a: 5\nb: 3\n');
    expect(parseYaml(patchYamlText(once, { a: 5, b: 3 }, { a: { x: [1, { y: 2 }] }, b: 3 }))).toEqual({ a: { x: [1, { y: 2 }] }, b: 3 });
  });
});

// --- random edits ------------------------------------------------------------------------

type Op =
  | { op: 'size'; t: number; l: number; blocks: number }
  | { op: 'alias'; t: number; value: string | undefined }
  | { op: 'addTarget'; n: number; luns: number }
  | { op: 'removeTarget'; t: number }
  | { op: 'addLun'; t: number; lun: number }
  | { op: 'removeLun'; t: number; l: number }
  | { op: 'flag'; t: number; l: number; readOnly: boolean; removable: boolean }
  | { op: 'scalars'; logLevel: Config['logLevel']; nop: number; poolPages: number }
  | { op: 'digests'; list: ('CRC32C' | 'None')[] }
  | { op: 'chap'; t: number; user: string }
  | { op: 'noauth'; t: number }
  | { op: 'serial'; t: number; l: number; serial: string | undefined }
  | { op: 'portal'; port: number; keep: boolean };

const index = fc.nat(20);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('size' as const), t: index, l: index, blocks: fc.integer({ min: 1, max: 2 ** 24 }) }),
  fc.record({ op: fc.constant('alias' as const), t: index, value: fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }) }),
  fc.record({ op: fc.constant('addTarget' as const), n: fc.nat(1000), luns: fc.nat(3) }),
  fc.record({ op: fc.constant('removeTarget' as const), t: index }),
  fc.record({ op: fc.constant('addLun' as const), t: index, lun: fc.nat(16383) }),
  fc.record({ op: fc.constant('removeLun' as const), t: index, l: index }),
  fc.record({ op: fc.constant('flag' as const), t: index, l: index, readOnly: fc.boolean(), removable: fc.boolean() }),
  fc.record({
    op: fc.constant('scalars' as const),
    logLevel: fc.constantFrom('info', 'debug', 'warn' as const),
    nop: fc.integer({ min: 0, max: 60 }),
    poolPages: fc.integer({ min: 1, max: 4096 }),
  }),
  fc.record({ op: fc.constant('digests' as const), list: fc.subarray(['CRC32C', 'None'] as ('CRC32C' | 'None')[], { minLength: 1 }) }),
  fc.record({ op: fc.constant('chap' as const), t: index, user: fc.string({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('noauth' as const), t: index }),
  fc.record({ op: fc.constant('serial' as const), t: index, l: index, serial: fc.option(fc.stringMatching(/^[A-Za-z0-9][ -~]{0,10}[A-Za-z0-9]$/), { nil: undefined }) }),
  fc.record({ op: fc.constant('portal' as const), port: fc.integer({ min: 1024, max: 9000 }), keep: fc.boolean() }),
);

function apply(c: Config, op: Op): void {
  const target = c.targets.length === 0 ? undefined : c.targets[('t' in op ? op.t : 0) % c.targets.length];
  const lun = target === undefined || target.luns.length === 0 ? undefined : target.luns[('l' in op ? op.l : 0) % target.luns.length];
  switch (op.op) {
    case 'size':
      if (lun !== undefined && lun.backstore.type !== 'block') lun.backstore.size = op.blocks * 4096;
      break;
    case 'alias':
      if (target !== undefined) target.alias = op.value;
      break;
    case 'addTarget': {
      const iqn = `iqn.2026-12.io.scatter:t${op.n}`;
      if (c.targets.some((t) => t.iqn === iqn)) break;
      const luns = Array.from({ length: op.luns }, (_, i) => ({ lun: i, backstore: { type: 'null', size: (i + 1) * 2 ** 20 } }));
      c.targets.push(validateConfig({ targets: [{ iqn, luns }] }, 'new').targets[0]!);
      break;
    }
    case 'removeTarget':
      if (target !== undefined) c.targets.splice(c.targets.indexOf(target), 1);
      break;
    case 'addLun':
      if (target !== undefined && !target.luns.some((l) => l.lun === op.lun)) {
        target.luns.splice(op.lun % (target.luns.length + 1), 0, validateConfig({ targets: [{ iqn: target.iqn, luns: [{ lun: op.lun, backstore: { type: 'null', size: 4096 } }] }] }, 'new').targets[0]!.luns[0]!);
      }
      break;
    case 'removeLun':
      if (target !== undefined && lun !== undefined) target.luns.splice(target.luns.indexOf(lun), 1);
      break;
    case 'flag':
      if (lun !== undefined) Object.assign(lun, { readOnly: op.readOnly, removable: op.removable });
      break;
    case 'scalars':
      Object.assign(c, { logLevel: op.logLevel });
      c.iscsi.nopInInterval = op.nop;
      c.memory.poolPages = op.poolPages;
      break;
    case 'digests':
      c.iscsi.headerDigest = op.list;
      break;
    case 'chap':
      if (target !== undefined) target.auth = { method: 'chap', user: op.user, secret: 'secret-of-twelve', algorithms: [7, 5] };
      break;
    case 'noauth':
      if (target !== undefined) target.auth = { method: 'none' };
      break;
    case 'serial':
      if (lun !== undefined) Object.assign(lun, { serial: op.serial }); // undefined: back to the derived default
      break;
    case 'portal':
      c.iscsi.portals = op.keep ? [...c.iscsi.portals.filter((p) => p.port !== op.port), { host: '127.0.0.1', port: op.port }] : [{ host: '0.0.0.0', port: op.port }];
      break;
  }
}

/** Files to start from: the commented flow-heavy default, the same config all in block style, nothing. */
const STARTS = [SHIPPED, stringifyConfig(parseConfig(SHIPPED, 'x')), ''];

describe('patchYamlText under random edits', () => {
  it('always gives a text that reads back as exactly the edited config, edit after edit', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STARTS), fc.array(opArb, { minLength: 1, maxLength: 6 }), (start, ops) => {
        let text = start;
        let config = parseConfig(text, 'start');
        for (const op of ops) {
          const draft = structuredClone(config);
          apply(draft, op);
          let after: Config;
          try {
            after = validateConfig(draft, 'edited');
          } catch {
            continue; // e.g. a portal on the admin port: not a config anyone could commit
          }
          text = patchYamlText(text, config, after);
          expect(canonicalJson(parseConfig(text, 'patched'))).toBe(canonicalJson(after));
          config = after;
        }
        if (start === SHIPPED) {
          // Comments of parts the edits change, or never touch, are all still there.
          for (const comment of ['# Scatter — default configuration.', '# pino level', '# seconds between NOP-In pings', '# CHAP brute-force brake', '# bounce pool page size', '# CHAP for SendTargets']) {
            expect(text).toContain(comment);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
