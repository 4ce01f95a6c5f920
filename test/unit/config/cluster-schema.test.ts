/** The `cluster:` section: defaults filled, each bad field named. */
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../src/config/schema.js';

const base = { name: 'prod', nodeId: 'node-a', portGroup: 1, etcd: { endpoints: ['http://127.0.0.1:2379'] } };

function issues(cluster: unknown): string[] {
  const r = ConfigSchema.safeParse({ cluster });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('cluster config', () => {
  it('is absent by default (a single node) and gets its defaults when present', () => {
    expect(ConfigSchema.parse({}).cluster).toBeUndefined();
    expect(ConfigSchema.parse({ cluster: base }).cluster).toEqual({
      ...base,
      etcd: { endpoints: base.etcd.endpoints, callTimeoutMs: 2000 },
      leaseTtlSeconds: 3,
      nonOwnerState: 'standby',
    });
  });

  it('names the field that is wrong', () => {
    expect(issues({ ...base, name: 'a/b' })).toEqual([expect.stringMatching(/^cluster\.name: must be 1-63 letters/)]);
    expect(issues({ ...base, portGroup: 0 })).toEqual([expect.stringMatching(/^cluster\.portGroup: /)]);
    expect(issues({ ...base, etcd: { endpoints: [] } })).toEqual(['cluster.etcd.endpoints: must list at least one etcd endpoint']);
    expect(issues({ ...base, etcd: { endpoints: ['127.0.0.1:2379'] } })).toEqual([expect.stringMatching(/^cluster\.etcd\.endpoints\.0: must be an etcd client URL/)]);
    expect(issues({ ...base, nonOwnerState: 'offline' })).toEqual([expect.stringMatching(/^cluster\.nonOwnerState: /)]);
    expect(issues({ ...base, leaseTtl: 3 })).toEqual([expect.stringMatching(/^cluster: .*leaseTtl/)]);
  });
});
