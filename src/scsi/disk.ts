import { byPageCode, type DeviceType } from './device-type.js';
import { prInHandlers } from './pr/pr-in.js';
import { prOutHandlers } from './pr/pr-out.js';
import { reserveReleaseHandlers } from './pr/reserve-release.js';
import { SBC_COMMANDS } from './sbc/command-set.js';
import { MEDIUM_GATE } from './sbc/medium-gate.js';
import { SANITIZE_GATE, sanitizePollableSense } from './sbc/sanitize-gate.js';
import { SBC_VPD_PAGES } from './sbc/vpd-pages.js';
import { SPC_COMMANDS } from './spc/command-set.js';
import { SPC_VPD_PAGES } from './spc/vpd.js';

/** INQUIRY version descriptor SBC-3 (no version claimed). */
const VERSION_SBC3 = 0x04c0;

/**
 * The direct-access block device (what every LU of this target is): SPC and reservations for
 * every LU, SBC for disks. The one module that puts spc/, pr/ and sbc/ together; the core gets
 * it as its default DeviceType.
 */
export const DIRECT_ACCESS_DEVICE: DeviceType = Object.freeze<DeviceType>({
  peripheralType: 0x00,
  commandSetVersion: VERSION_SBC3,
  handlers: Object.freeze([...SPC_COMMANDS, ...reserveReleaseHandlers, ...prInHandlers, ...prOutHandlers, ...SBC_COMMANDS]),
  vpdPages: byPageCode(SPC_VPD_PAGES, SBC_VPD_PAGES),
  // Ejected medium first, then a sanitize in progress or failed (both from every nexus).
  gates: Object.freeze([MEDIUM_GATE, SANITIZE_GATE]),
  pollableSense: sanitizePollableSense,
  // SBC-4: a reset clears PREVENT ALLOW MEDIUM REMOVAL (the medium stays as it is); so does nexus loss, for that nexus.
  reset: (lu) => lu.medium.reset(),
  nexusLost: (lu, nexusId) => lu.medium.forget(nexusId),
  // The sanitize state outlasts resets and nexus loss (SBC-4 4.11.3 f): nothing to do for it here.
});
