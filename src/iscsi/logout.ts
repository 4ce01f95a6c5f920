import { LogoutResponse, RejectReason } from './opcodes.js';
import { encodeLogoutResponse, parseLogoutRequest, type InPdu } from './pdu.js';
import type { SessionHost } from './session-host.js';
import { LogEvent } from '../shared/log-events.js';

/** How long a logout waits for commands under way before it answers anyway (ms). */
const LOGOUT_DRAIN_MS = 5000;

/**
 * Logout Requests (RFC 7143 §11.14): reason 0 closes the session, 1 our one connection (CID), 2
 * (recovery, ERL 2) is not supported. Commands under way get a bounded time to finish first.
 */
export class Logout {
  constructor(
    private readonly s: SessionHost,
    /** The CID this session's connection logged in with. */
    private readonly cid: number,
  ) {}

  handle(pdu: InPdu): void {
    const req = parseLogoutRequest(pdu.bhs);
    if (req.reason > 2) {
      // Reason codes 3-127 are reserved (RFC 7143 §11.14.1).
      this.s.conn.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
      return;
    }
    this.s.ordered(req.cmdSN, req.immediate, () => this.s.background(this.logout(req.itt, req.reason, req.cid), 'logout'));
  }

  private async logout(itt: number, reason: number, cid: number): Promise<void> {
    // The CID matters for reasons 1 and 2 (RFC 7143 §11.14.3): another one is "CID not found".
    let response: number;
    if (reason !== 0 && cid !== this.cid) response = LogoutResponse.CID_NOT_FOUND;
    else if (reason === 2) response = LogoutResponse.RECOVERY_NOT_SUPPORTED;
    else response = LogoutResponse.CLOSED;
    if (response === LogoutResponse.CLOSED) await this.drain(LOGOUT_DRAIN_MS);
    const { conn, window } = this.s;
    if (conn.isClosed) return;
    conn.send(
      encodeLogoutResponse({
        itt,
        response,
        statSN: conn.takeStatSN(),
        expCmdSN: window.expCmdSN,
        maxCmdSN: window.maxCmdSN,
        time2Wait: 0,
        time2Retain: 0,
      }),
    );
    if (response === LogoutResponse.CLOSED) {
      this.s.log.info({ event: LogEvent.logout, reason: reason === 0 ? 'close_session' : 'close_connection' }, 'logout');
      conn.close('logout');
    }
  }

  /** Wait (bounded) for the tasks being executed to finish. */
  private async drain(timeoutMs: number): Promise<void> {
    const running = [...this.s.tasks.values()].map((t) => t.execution).filter((p): p is Promise<void> => !!p);
    if (running.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(running), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}
