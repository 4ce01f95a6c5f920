/** The two example node files of the README's "Cluster mode" validate and describe two distinct nodes of one cluster. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

describe('config/cluster-a.yaml and config/cluster-b.yaml', () => {
  it('validate, name one cluster and one backing file, and differ in node id, port group, portal and state dir', async () => {
    const [a, b] = await Promise.all([loadConfig('config/cluster-a.yaml'), loadConfig('config/cluster-b.yaml')]);
    expect(a.cluster?.name).toBe('lab');
    expect(b.cluster?.name).toBe('lab');
    expect([a.cluster?.nodeId, b.cluster?.nodeId]).toEqual(['a', 'b']);
    expect(a.cluster?.portGroup).not.toBe(b.cluster?.portGroup);
    expect(a.iscsi.portals[0]!.host).not.toBe(b.iscsi.portals[0]!.host);
    expect(a.stateDir).not.toBe(b.stateDir);
    expect(a.targets).toEqual(b.targets);
    expect(a.cluster?.etcd.endpoints).toEqual(['http://127.0.0.1:2379']);
  });
});
