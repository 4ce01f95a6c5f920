import type { ConnectionLink } from './connection-link.js';
import { ISCSI_VERSION } from './login-request-checks.js';
import { LoginStatus, type LoginStatusCode } from './opcodes.js';
import { encodeLoginResponse, type LoginRequestPdu } from './pdu.js';

/** One Login Response as the login state machine decides it. */
export interface LoginReply {
  readonly transit: boolean;
  readonly cont: boolean;
  readonly nsg: number;
  /** The stage answered in; default the request's CSG (a refusal names the stage the login is really in). */
  readonly csg?: number;
  readonly data: Buffer;
  readonly status?: LoginStatusCode;
  /** The session's TSIH, on the response that ends the login (else the request's). */
  readonly tsih?: number;
  /** The session's window, on the response that ends the login (else ExpCmdSN = MaxCmdSN = the request's CmdSN). */
  readonly window?: { readonly expCmdSN: number; readonly maxCmdSN: number };
}

/**
 * Login Responses of one connection (RFC 7143 §11.13), numbered from the initiator's ExpStatSN on
 * its first Login Request. The last one (the switch to full feature phase) takes the connection's
 * first StatSN, which then counts on in full feature phase.
 */
export class LoginReplies {
  private statSN = 0;

  constructor(private readonly conn: ConnectionLink) {}

  /** The first Login Request: responses count from its ExpStatSN. */
  start(expStatSN: number): void {
    this.statSN = expStatSN;
  }

  send(req: LoginRequestPdu, r: LoginReply): void {
    const statSN = this.statSN;
    this.statSN = (this.statSN + 1) >>> 0;
    this.write(req, r, statSN);
  }

  /** The response that ends the login: StatSN now belongs to the connection. */
  sendFinal(req: LoginRequestPdu, r: LoginReply): void {
    this.conn.startStatSN(this.statSN);
    this.write(req, r, this.conn.takeStatSN());
  }

  private write(req: LoginRequestPdu, r: LoginReply, statSN: number): void {
    const status = r.status ?? LoginStatus.SUCCESS;
    this.conn.send(
      encodeLoginResponse({
        transit: r.transit,
        cont: r.cont,
        csg: r.csg ?? req.csg,
        nsg: r.nsg,
        versionMax: ISCSI_VERSION,
        versionActive: ISCSI_VERSION,
        isid: req.isid,
        tsih: r.tsih ?? req.tsih,
        itt: req.itt,
        statSN,
        expCmdSN: r.window?.expCmdSN ?? req.cmdSN,
        maxCmdSN: r.window?.maxCmdSN ?? req.cmdSN,
        statusClass: status[0],
        statusDetail: status[1],
        dataLength: r.data.length,
      }),
      r.data,
    );
  }
}
