// npx vite-node test/bench/bounce.ts [-- --secs 2 --reps 3]   (root: makes a loop device)
// The cost of bouncing under O_DIRECT: the same writes through a BlockQueue on a block backstore,
// once from aligned pool pages (straight to the device) and once from heap views at odd offsets
// (every byte copied into bounce pages). The loop device sits on a /dev/shm file so the device is
// cheap and the copy shows. Runs are interleaved; compare only figures from one run.
import { parseArgs } from 'node:util';
import { BlockBackstore } from '../../src/backstore/block.js';
import { Mempool } from '../../src/block/mempool.js';
import { BlockQueue } from '../../src/block/queue.js';
import { SgVector } from '../../src/block/sg.js';
import { createLoop } from '../helpers/loop.js';

const { values } = parseArgs({ options: { secs: { type: 'string', default: '2' }, reps: { type: 'string', default: '3' } } });
const SECS = Number(values.secs);
const REPS = Number(values.reps);
const DEVICE = 256 * 1024 * 1024;
const QD = 8;
const PAGE = 64 * 1024;

process.env.TMPDIR = '/dev/shm';
const loop = createLoop(DEVICE, 4096);
const store = await BlockBackstore.open({ path: loop.dev });
const pool = new Mempool({ pages: 256, pageSize: PAGE });
const queue = new BlockQueue(store, pool, { poolWaitMs: 60_000 });
// Caller memory: pool pages for the aligned case, odd heap views for the bounced case.
const source = new Mempool({ pages: QD * 16, pageSize: PAGE });

const lent: Buffer[] = [];

function sgFor(mode: 'aligned' | 'bounced', size: number): SgVector {
  const sg = new SgVector();
  for (let at = 0; at < size; at += PAGE) {
    const len = Math.min(PAGE, size - at);
    if (mode === 'aligned') {
      const page = source.tryAlloc(1)![0]!;
      lent.push(page);
      sg.append(page.subarray(0, len));
    }
    else sg.append(Buffer.alloc(len + 1, 0xa5).subarray(1));
  }
  return sg;
}

async function measure(mode: 'aligned' | 'bounced' | 'read', size: number): Promise<{ mbps: number; bounced: number; direct: number }> {
  const before = { b: queue.stats.bouncedBytes, d: queue.stats.directBytes };
  const sgs = Array.from({ length: QD }, () => (mode === 'read' ? undefined : sgFor(mode, size)));
  const end = performance.now() + SECS * 1000;
  const blocks = DEVICE / size;
  let bytes = 0;
  let next = 0;
  await Promise.all(
    sgs.map(async (sg) => {
      while (performance.now() < end) {
        const offset = (next++ % blocks) * size;
        if (sg) await queue.write(offset, sg, { fua: false });
        else (await queue.read(offset, size)).release();
        bytes += size;
      }
    }),
  );
  source.free(lent.splice(0));
  return { mbps: bytes / SECS / 1e6, bounced: queue.stats.bouncedBytes - before.b, direct: queue.stats.directBytes - before.d };
}

try {
  const rows: string[] = [];
  for (const size of [4096, 64 * 1024, 1024 * 1024]) {
    const res: Record<string, number[]> = { aligned: [], bounced: [], read: [] };
    const split: Record<string, string> = {};
    for (let r = 0; r < REPS; r++) {
      for (const mode of ['aligned', 'bounced', 'read'] as const) {
        const m = await measure(mode, size);
        res[mode]!.push(m.mbps);
        split[mode] = `${((100 * m.bounced) / Math.max(1, m.bounced + m.direct)).toFixed(0)}% bounced`;
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const a = median(res.aligned!);
    const b = median(res.bounced!);
    rows.push(
      `| ${size / 1024} KiB | ${a.toFixed(0)} (${split.aligned}) | ${b.toFixed(0)} (${split.bounced}) | ${(b / a).toFixed(2)} | ${median(res.read!).toFixed(0)} (${split.read}) |`,
    );
  }
  console.log(`QD ${QD}, ${SECS} s per run, median of ${REPS} interleaved runs, MB/s`);
  console.log('| request | write, aligned pool pages | write, odd heap views | bounced / aligned | read into pool pages |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
} finally {
  await queue.close();
  loop.detach();
}
