import { RESERVED_TAG } from './opcodes.js';
import { encodeNopIn, parseNopOut, type InPdu } from './pdu.js';
import type { SessionHost } from './session-host.js';

/**
 * A NOP-Out from the initiator (RFC 7143 §11.18) is answered in CmdSN order with a NOP-In echoing
 * its data. One with ITT 0xffffffff answers a ping of ours (the connection's keepalive takes those
 * it is waiting for); a late one is dropped.
 */
export function answerNopOut(s: SessionHost, pdu: InPdu): void {
  const req = parseNopOut(pdu.bhs);
  if (req.itt === RESERVED_TAG) return;
  // The echo is limited to what the initiator declared it can receive (RFC 7143 §11.19.5): its
  // ping data may be longer than our answer may be.
  const echo = pdu.data.slice(0, Math.min(pdu.data.length, s.params.maxXmitDataSegmentLength));
  s.ordered(req.cmdSN, req.immediate, () =>
    s.conn.send(
      encodeNopIn({
        lun: req.lun,
        itt: req.itt,
        ttt: RESERVED_TAG,
        statSN: s.conn.takeStatSN(),
        expCmdSN: s.window.expCmdSN,
        maxCmdSN: s.window.maxCmdSN,
        dataLength: echo.length,
      }),
      echo,
    ),
  );
}
