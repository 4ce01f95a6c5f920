/** Two I_T nexuses on one LU, and PR command shortcuts, for the reservation unit tests. */
import type { Nexus, ScsiResponse } from '../../../../src/scsi/command.js';
import { ScsiTargetCore } from '../../../../src/scsi/target-core.js';
import { IN, parseReadKeys, parseReadReservation, prInCdb, prOutCdb, prOutParams, type ParamFlags } from '../../../helpers/pr.js';
import { MemDevice } from '../../../helpers/mem-device.js';
import { dataOf, makeLu, makeNexus, run, TARGET } from '../fixture.js';
import type { LogicalUnit, LogicalUnitConfig } from '../../../../src/scsi/logical-unit.js';

export const TUR = [0x00, 0, 0, 0, 0, 0];

export interface PrSetup {
  core: ScsiTargetCore;
  lu: LogicalUnit;
  dev: MemDevice;
  a: Nexus;
  b: Nexus;
  c: Nexus;
}

/** Three nexuses with their power-on unit attentions consumed. */
export async function prSetup(over: Partial<LogicalUnitConfig> = {}): Promise<PrSetup> {
  const dev = new MemDevice(256);
  const lu = makeLu(dev, over);
  const core = new ScsiTargetCore({ targetName: TARGET, luns: [lu] });
  const [a, b, c] = [makeNexus(1), makeNexus(2), makeNexus(3)];
  for (const n of [a, b, c]) {
    core.addNexus(n);
    await run(core, TUR, { nexus: n });
  }
  return { core, lu, dev, a, b, c };
}

export function prOut(core: ScsiTargetCore, nexus: Nexus, sa: number, type: number, params: Buffer): Promise<ScsiResponse> {
  return run(core, prOutCdb(sa, type, params.length), { nexus, data: params });
}

export function basic(core: ScsiTargetCore, nexus: Nexus, sa: number, type: number, key: bigint, sark: bigint, f?: ParamFlags) {
  return prOut(core, nexus, sa, type, prOutParams(key, sark, f));
}

export async function readKeys(core: ScsiTargetCore, nexus: Nexus) {
  return parseReadKeys(dataOf(await run(core, prInCdb(IN.READ_KEYS), { nexus })));
}

export async function readReservation(core: ScsiTargetCore, nexus: Nexus) {
  return parseReadReservation(dataOf(await run(core, prInCdb(IN.READ_RESERVATION), { nexus })));
}
