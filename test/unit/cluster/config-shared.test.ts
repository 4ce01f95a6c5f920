/**
 * The shared part of a cluster's config (src/cluster/config-shared.ts): exactly targets,
 * backstores and discoveryAuth, in file form (a named backstore by its name), validated again
 * whole; anything else in etcd is refused naming the key.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/error.js';
import { ConfigSchema, type Config } from '../../../src/config/schema.js';
import { changedNodeLocalKeys, decodeShared, encodeShared, nodeLocalPart, sharedPart, withShared } from '../../../src/cluster/config-shared.js';

const IQN = 'iqn.2026-11.io.scatter:shared';

function node(port: number, extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({
    iscsi: { portals: [{ host: '127.0.0.1', port }] },
    admin: { port: port + 1 },
    cluster: { name: 'c1', nodeId: `n${port}`, portGroup: 1, etcd: { endpoints: ['http://127.0.0.1:2379'] } },
    ...extra,
  });
}

const named = {
  backstores: [{ name: 'disk0', type: 'null', size: '32MiB' }],
  targets: [{ iqn: IQN, luns: [{ lun: 0, backstore: 'disk0' }] }],
};

describe('cluster config: the shared part', () => {
  it('holds targets, backstores and discoveryAuth in file form, nothing node-local', () => {
    const config = node(3260, named);
    const shared = JSON.parse(encodeShared(config)) as Record<string, unknown>;
    expect(Object.keys(shared).sort()).toEqual(['backstores', 'discoveryAuth', 'targets']);
    expect(shared).toMatchObject({ targets: [{ iqn: IQN, luns: [{ lun: 0, backstore: 'disk0' }] }], discoveryAuth: { method: 'none' } });
    expect(encodeShared(config)).not.toContain('3260');
    expect(Object.keys(nodeLocalPart(config))).not.toContain('targets');
    expect(nodeLocalPart(config)).toMatchObject({ iscsi: { portals: [{ port: 3260 }] }, admin: { port: 3261 } });
  });

  it('gives the same text for equal configs whatever order their keys came in', () => {
    const a = node(3260, named);
    const b = node(3260, { targets: named.targets, backstores: named.backstores });
    expect(encodeShared(a)).toBe(encodeShared(b));
  });

  it("puts another node's shared part into this node's config, keeping this node's own keys", () => {
    const a = node(3260, named);
    const b = node(4260, { targets: [{ iqn: 'iqn.2026-11.io.scatter:b', luns: [] }] });
    const source = 'etcd key /scatter/c1/config (revision 5)';
    const merged = withShared(b, decodeShared(encodeShared(a), source), source);
    expect(merged.targets.map((t) => t.iqn)).toEqual([IQN]);
    expect(merged.targets[0]?.luns[0]).toMatchObject({ backstoreName: 'disk0', backstore: { type: 'null', size: 32 * 2 ** 20 } });
    expect(merged.iscsi.portals).toEqual(b.iscsi.portals);
    expect(merged.admin.port).toBe(4261);
    expect(merged.cluster?.nodeId).toBe('n4260');
    expect(sharedPart(merged)).toEqual(sharedPart(a));
  });

  it('refuses text that is not JSON, not an object, or holds a node-local key, naming the source', () => {
    const source = 'etcd key /scatter/c1/config (revision 9)';
    expect(() => decodeShared('{targets: [', source)).toThrow(ConfigError);
    expect(() => decodeShared('{targets: [', source)).toThrow(/^etcd key \/scatter\/c1\/config \(revision 9\): \(root\): not JSON/);
    expect(() => decodeShared('[1]', source)).toThrow(/must be a JSON object/);
    expect(() => decodeShared('{"targets":[],"admin":{"port":1}}', source)).toThrow(/\/scatter\/c1\/config \(revision 9\): admin: is not shared through etcd/);
  });

  it('refuses a shared part that does not validate, naming the source and the field', () => {
    const source = 'etcd key /scatter/c1/config (revision 3)';
    const bad = decodeShared('{"targets":[{"iqn":"not an iqn","luns":[]}]}', source);
    expect(() => withShared(node(3260), bad, source)).toThrow(/^etcd key \/scatter\/c1\/config \(revision 3\): targets\[0\]\.iqn: /);
  });

  it('names the node-local keys a change touches', () => {
    const a = node(3260, named);
    expect(changedNodeLocalKeys(a, node(3260, {}))).toEqual([]);
    expect(changedNodeLocalKeys(a, node(3270, named))).toEqual(['admin', 'cluster', 'iscsi']);
    expect(changedNodeLocalKeys(a, { ...a, logLevel: 'debug' })).toEqual(['logLevel']);
  });
});
