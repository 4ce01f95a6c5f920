/**
 * Header rules of a Login Request (RFC 7143 §11.12), checked before its text is read.
 * Every breach is an "Initiator error" (0200) except an unsupported version (0205).
 */
import { LoginFailure } from './login-failure.js';
import { LoginStatus } from './opcodes.js';
import type { LoginRequestPdu } from './pdu.js';

/** iSCSI version 0x00 is the only one defined (RFC 7143 §11.12.4). */
export const ISCSI_VERSION = 0x00;
export const STAGE_OPERATIONAL = 1;
export const STAGE_FULL_FEATURE = 3;

function initiatorError(message: string): LoginFailure {
  return new LoginFailure(LoginStatus.INITIATOR_ERROR, 'initiator_error', message);
}

/**
 * `first` is the login's first request (undefined when `req` is it); `stage` the stage
 * the target is in. Returns the failure to answer with, or undefined when the header is fine.
 */
export function checkLoginRequestHeader(
  req: LoginRequestPdu,
  first: LoginRequestPdu | undefined,
  stage: number,
): LoginFailure | undefined {
  if (first === undefined) {
    if (req.versionMin > ISCSI_VERSION || req.versionMax < ISCSI_VERSION) {
      return new LoginFailure(
        LoginStatus.UNSUPPORTED_VERSION,
        'unsupported_version',
        `unsupported version ${req.versionMin}..${req.versionMax}`,
      );
    }
  } else if (!req.isid.equals(first.isid) || req.tsih !== first.tsih || req.cid !== first.cid) {
    // §11.12.5-7: ISID, TSIH and CID stay the same for the whole login.
    return initiatorError('ISID/TSIH/CID changed during login');
  }
  // §11.12.2: "If the T bit is set to 1, then the C bit MUST be set to 0" -- text still coming cannot end a stage.
  if (req.transit && req.cont) return initiatorError('T and C bits both set');
  // §11.12.3: CSG is 0 (security) or 1 (operational); 2 is reserved and 3 (full feature) is where login ends.
  if (req.csg === 2 || req.csg === STAGE_FULL_FEATURE) return initiatorError(`invalid CSG ${req.csg}`);
  // §6.3: a transit only goes forward, never to the reserved stage 2.
  if (req.transit && (req.nsg === 2 || req.nsg <= req.csg)) {
    return initiatorError(`invalid stage transition CSG=${req.csg} NSG=${req.nsg}`);
  }
  // A stage may only change after the target agreed to a transit.
  if (first !== undefined && req.csg !== stage) return initiatorError(`unexpected CSG ${req.csg} in stage ${stage}`);
  return undefined;
}
