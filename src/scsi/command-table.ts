import type { CommandHandler } from './handler.js';
import { ScsiError } from './errors.js';
import { Sense, type SenseReason } from './sense-reasons.js';

/** Opcode -> handler, or opcode -> (service action -> handler) for SERVICE ACTION IN / MAINTENANCE IN. */
export class CommandTable {
  private readonly plain = new Map<number, CommandHandler>();
  private readonly withAction = new Map<number, Map<number, CommandHandler>>();

  constructor(readonly handlers: readonly CommandHandler[]) {
    for (const h of handlers) {
      if (h.serviceAction === undefined) {
        if (this.plain.has(h.opcode)) throw new ScsiError('DUPLICATE_OPCODE', `opcode ${h.opcode.toString(16)}h registered twice`);
        this.plain.set(h.opcode, h);
      } else {
        let actions = this.withAction.get(h.opcode);
        if (!actions) this.withAction.set(h.opcode, (actions = new Map()));
        if (actions.has(h.serviceAction)) throw new ScsiError('DUPLICATE_OPCODE', `opcode ${h.opcode.toString(16)}h/${h.serviceAction.toString(16)}h registered twice`);
        actions.set(h.serviceAction, h);
      }
    }
  }

  /**
   * Unknown opcode: INVALID COMMAND OPERATION CODE. Unknown service action of a known opcode:
   * INVALID FIELD IN CDB pointing at SERVICE ACTION (what initiators read as "not supported").
   */
  lookup(cdb: Buffer): CommandHandler | SenseReason {
    const opcode = cdb[0];
    const plain = this.plain.get(opcode);
    if (plain) return plain;
    const actions = this.withAction.get(opcode);
    if (!actions) return Sense.invalidOpcode;
    return actions.get(cdb[1] & 0x1f) ?? Sense.invalidFieldInCdb(1, 4);
  }
}
