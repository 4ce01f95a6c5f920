/**
 * Task Management Function Requests (RFC 7143 §11.5): every function code (reserved ones too),
 * referenced tags of live tasks, finished tasks and tags never used, existing and missing
 * LUNs. The response code must be one RFC 7143 §11.6.1 allows for that function, and a task
 * that ABORT TASK reports aborted must get no status afterwards (checked by the session).
 */
import type { TaskModel } from '../session.js';
import { NO_TAG, Opcode, ittOf, opOf, tmfBhs, lunBytes } from '../wire.js';
import { simpleRw } from './cdb.js';
import { command, honestCommand } from './command.js';
import type { Generator } from './types.js';

const FUNCTIONS = [1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 8];

/** Response codes RFC 7143 §11.6.1 allows for each function (255 = rejected, 5 = not supported, 6 = authorization failed). */
function allowed(fn: number, lunExists: boolean): number[] {
  switch (fn) {
    case 1:
      return [0, 1, 2, 6];
    case 2:
    case 4:
    case 5:
      return lunExists ? [0, 5, 6] : [2, 5, 6];
    case 3:
      return lunExists ? [0, 5, 6] : [2, 5, 6];
    case 6:
    case 7:
      return [0, 5, 6];
    case 8:
      return [1, 4, 5, 6];
    default:
      return [5, 255];
  }
}

const tmf: Generator = {
  name: 'tmf',
  pdu: 'Task Management Function Request',
  async run(g) {
    const r = g.r;
    // The plain target: LUN 0 (file) and 1 (null) exist, every other LUN does not.
    const s = await g.session({ kind: 'plain' });
    if (!s) return;
    const geo = { blocks: g.slot.fileLunBlocks, maxWriteBytes: 1 << 20 };
    // Some tasks to refer to: a WRITE left waiting for its R2T answers, and finished commands.
    const live: TaskModel[] = [];
    const waiting = await command(s, { lun: 0, cdb: simpleRw(r, geo, true, 256).cdb, edtl: 256 * 512, read: false, write: true, manual: true, note: 'a WRITE left waiting' });
    if (waiting) live.push(waiting);
    const done = await honestCommand(s, r, simpleRw(r, geo, false, 8), { lun: r.pick([0, 1]) });
    const n = r.int(1, 3);
    for (let i = 0; i < n && !s.closed && !s.ending; i++) {
      const fn = r.weighted<number>([
        [10, r.pick(FUNCTIONS)],
        [2, r.pick([0, 9, 14, 15, 16, 0x7f])],
      ]);
      const ref = r.weighted<TaskModel | number>([
        [4, live[0] ?? NO_TAG],
        [2, done ?? 0x1234],
        [2, s.allocItt()],
        [1, NO_TAG],
      ]);
      const refItt = typeof ref === 'number' ? ref : ref.itt;
      const lunNumber = r.weighted<number>([
        [6, typeof ref === 'number' ? 0 : ref.lunField[1]!],
        [2, 1],
        [2, r.edgy(2, 16383, [255, 256])],
      ]);
      const lunExists = lunNumber <= 1;
      const refCmdSN = typeof ref === 'number' ? r.pick([s.cmdSN, s.cmdSN + 1, r.int(0, 0xffffffff)]) : ref.cmdSN;
      const immediate = r.bool(0.8);
      const itt = s.allocItt();
      const cmdSN = await s.nextCmdSN(immediate);
      const head = tmfBhs({ immediate, fn, lun: 0, itt, refItt, cmdSN, expStatSN: s.expStatSN, refCmdSN });
      lunBytes(lunNumber).copy(head, 8);
      const reserved = !(fn >= 1 && fn <= 8);
      s.send(head, { note: `fn ${fn} ref ${refItt.toString(16)} lun ${lunNumber}` });
      const since = s.mark();
      const req = s.reqs.get(itt);
      if (req) {
        req.onAnswer = (p) => {
          const code = p.bhs[2]!;
          const ok = allowed(fn, lunExists);
          if (!ok.includes(code)) s.fail('rfc', `TMF function ${fn}${reserved ? ' (reserved)' : ''} on ${lunExists ? 'an existing' : 'a missing'} LUN answered ${code}; RFC 7143 §11.6.1 allows ${ok.join('/')}`);
          if (code !== 0) return;
          if (fn === 1 && typeof ref !== 'number' && ref.lunField[1] === lunNumber) ref.aborted = ref.statuses < ref.instances;
          // Sets, resets: tasks of the scope end without a status for this nexus.
          if (fn === 2 || fn === 4 || fn === 5 || fn === 6 || fn === 7) {
            for (const t of s.tasks.values()) if (fn >= 6 || t.lunField[1] === lunNumber) t.gone = true;
          }
          if (fn === 7) s.ending = true;
        };
      }
      await s.waitPdu((p) => (opOf(p.bhs) === Opcode.TMF_RSP && ittOf(p.bhs) === itt) || (opOf(p.bhs) === Opcode.REJECT && ittOf(p.data) === itt), g.answerMs, since);
    }
  },
};

export const tmfGenerators: Generator[] = [tmf];
