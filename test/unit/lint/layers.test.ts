/**
 * The layer rule itself (eslint.layers.js): an import against the direction fails `npm run lint`,
 * one along it passes. Linted as if the probe files sat in src/.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'import-x/no-restricted-paths' || m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer lint rule', () => {
  it('refuses the block layer importing the SCSI core, and the SCSI core importing iSCSI', async () => {
    expect(await problems('src/block/probe.ts', "import { ScsiTargetCore } from '../scsi/target-core.js';\nexport type T = ScsiTargetCore;\n")).toEqual([
      expect.stringContaining('src/block may import only'),
    ]);
    expect(await problems('src/scsi/probe.ts', "import { Session } from '../iscsi/session.js';\nexport type T = Session;\n")).toEqual([
      expect.stringContaining('src/scsi may import only'),
    ]);
  });

  it('refuses prom-client and fastify below the planes', async () => {
    expect(await problems('src/iscsi/probe.ts', "import { Registry } from 'prom-client';\nexport const r = new Registry();\n")).toEqual([
      expect.stringContaining('belongs to the admin or metrics plane'),
    ]);
  });

  it('keeps etcd3 inside src/cluster', async () => {
    const code = "import { Etcd3 } from 'etcd3';\nexport const c = new Etcd3();\n";
    expect(await problems('src/server/probe.ts', code)).toEqual([expect.stringContaining('etcd3 belongs to src/cluster')]);
    expect(await problems('src/cluster/probe.ts', code)).toEqual([]);
  });

  it('lets imports along the direction through', async () => {
    expect(await problems('src/iscsi/probe.ts', "import { SgVector } from '../block/sg.js';\nexport const v = new SgVector();\n")).toEqual([]);
    expect(await problems('src/metrics/probe.ts', "import { Registry } from 'prom-client';\nexport const r = new Registry();\n")).toEqual([]);
  });
});
