import type { Logger } from 'pino';
import { ChapTargetSession, type ChallengeCache, type ChapTargetConfig } from './chap.js';
import type { Connection, PduHandler } from './connection.js';
import { OperationalNegotiator } from './negotiation.js';
import type { SessionParams, TargetNegotiationConfig } from './session-params.js';
import { LoginStatus, Op, type LoginStatusCode } from './opcodes.js';
import { encodeLoginResponse, opcodeOf, parseLoginRequest, type InPdu, type LoginRequestPdu } from './pdu.js';
import type { IscsiTarget, TargetRegistry } from './target.js';
import { TextAccumulator, encodeTextPairs } from './text.js';
import { readTextRound } from './text-round.js';

const STAGE_SECURITY = 0;
const STAGE_FULL_FEATURE = 3;
/** iSCSI version 0x00 is the only one defined (RFC 7143 §11.12.4). */
const VERSION = 0x00;

/** Keys the login state machine handles itself; everything else goes to operational negotiation. */
const IDENTITY_KEYS = new Set(['InitiatorName', 'InitiatorAlias', 'TargetName', 'SessionType', 'AuthMethod']);
const TARGET_ONLY_KEYS = new Set(['TargetAlias', 'TargetAddress', 'TargetPortalGroupTag']);

export type SessionType = 'Normal' | 'Discovery';

export interface LoginOutcome {
  readonly initiatorName: string;
  readonly initiatorAlias?: string;
  readonly isid: Buffer;
  /** TSIH the initiator sent: 0 for a new session (or a reinstatement). */
  readonly requestedTsih: number;
  readonly cid: number;
  readonly sessionType: SessionType;
  readonly target?: IscsiTarget;
  readonly params: SessionParams;
  /** CmdSN of the login request: the session's first ExpCmdSN. */
  readonly cmdSN: number;
}

/** What the session layer gives back when a login completes. */
export interface SessionAttachment {
  readonly tsih: number;
  readonly expCmdSN: number;
  readonly maxCmdSN: number;
  readonly handler: PduHandler;
}

export interface LoginContext {
  readonly targets: TargetRegistry;
  readonly negotiation: TargetNegotiationConfig;
  readonly discoveryChap?: ChapTargetConfig;
  readonly challengeCache: ChallengeCache;
  readonly loginTimeoutMs: number;
  /** Create (or reinstate) the session; a status code refuses the login. */
  attach(conn: Connection, outcome: LoginOutcome): SessionAttachment | LoginStatusCode;
}

class LoginFailure extends Error {
  constructor(
    readonly status: LoginStatusCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The login phase of one connection (RFC 7143 §6): security negotiation (AuthMethod,
 * CHAP), operational negotiation, then the switch to full feature phase.
 */
export class LoginHandler implements PduHandler {
  private first: LoginRequestPdu | undefined;
  private statSN = 0;
  private stage = STAGE_SECURITY;
  private sessionType: SessionType = 'Normal';
  private initiatorName = '';
  private initiatorAlias: string | undefined;
  private target: IscsiTarget | undefined;
  private authRequired: ChapTargetConfig | undefined;
  private authChosen: 'None' | 'CHAP' | undefined;
  private authDone = false;
  private chap: ChapTargetSession | undefined;
  private negotiator: OperationalNegotiator | undefined;
  private sentTpgt = false;
  private readonly text = new TextAccumulator();
  private readonly timer: ReturnType<typeof setTimeout>;
  private finished = false;

  constructor(
    private readonly conn: Connection,
    private readonly ctx: LoginContext,
    private readonly log: Logger,
  ) {
    this.timer = setTimeout(() => {
      this.log.warn({ remote: conn.remote }, 'login did not complete in time');
      conn.destroy('login timeout');
    }, ctx.loginTimeoutMs);
    this.timer.unref();
  }

  onConnectionClosed(): void {
    clearTimeout(this.timer);
  }

  handlePdu(pdu: InPdu): void {
    if (this.finished) return;
    if (opcodeOf(pdu.bhs) !== Op.LOGIN_REQ) {
      // Only Login Requests are allowed before full feature phase (RFC 7143 §6.1).
      this.log.warn({ opcode: opcodeOf(pdu.bhs) }, 'non-login PDU during login');
      this.fail(parseLoginRequest(pdu.bhs), LoginStatus.INVALID_DURING_LOGIN, 'PDU other than Login Request during login');
      return;
    }
    const req = parseLoginRequest(pdu.bhs);
    try {
      this.step(req, pdu);
    } catch (err) {
      if (err instanceof LoginFailure) {
        this.fail(req, err.status, err.message);
        return;
      }
      throw err;
    }
  }

  private step(req: LoginRequestPdu, pdu: InPdu): void {
    if (!this.first) {
      this.first = req;
      this.statSN = req.expStatSN;
      this.stage = req.csg;
      if (req.versionMin > VERSION || req.versionMax < VERSION) {
        throw new LoginFailure(LoginStatus.UNSUPPORTED_VERSION, `unsupported version ${req.versionMin}..${req.versionMax}`);
      }
    } else if (!req.isid.equals(this.first.isid) || req.tsih !== this.first.tsih || req.cid !== this.first.cid) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'ISID/TSIH/CID changed during login');
    }
    if (req.csg === 2 || (req.transit && (req.nsg === 2 || req.nsg <= req.csg))) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, `invalid stage transition CSG=${req.csg} NSG=${req.nsg}`);
    }
    if (req.csg !== this.stage) {
      // A stage may only change after the target agreed to a transit.
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, `unexpected CSG ${req.csg} in stage ${this.stage}`);
    }

    const acc = readTextRound(this.text, pdu.data.toBuffer(), req.cont);
    if (!acc.ok) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, acc.error);
    if (acc.pairs === undefined) {
      // More text follows (C bit): acknowledge with an empty response in the same stage.
      this.respond(req, { transit: false, nsg: 0, pairs: [] });
      return;
    }
    const pairs = acc.pairs;
    const keys = new Map<string, string>();
    for (const [k, v] of pairs) keys.set(k, v);

    if (this.first === req) this.identify(keys);

    const reply: [string, string][] = [];
    if (!this.sentTpgt && this.sessionType === 'Normal' && this.target) {
      reply.push(['TargetPortalGroupTag', String(this.target.portalGroupTag)]);
      this.sentTpgt = true;
    }

    const operational: [string, string][] = [];
    for (const [k, v] of pairs) {
      if (IDENTITY_KEYS.has(k) || k.startsWith('CHAP_')) continue;
      if (TARGET_ONLY_KEYS.has(k)) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, `initiator sent target key ${k}`);
      operational.push([k, v]);
    }

    if (req.csg === STAGE_SECURITY) {
      this.security(keys, reply);
    } else if (this.authRequired && !this.authDone) {
      throw new LoginFailure(LoginStatus.AUTH_FAILURE, 'operational stage without the required authentication');
    }

    if (operational.length > 0) {
      const r = this.negotiator!.respond(operational);
      if (r.error) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, `negotiation: ${r.error.message}`);
      reply.push(...r.reply);
    }

    let transit = false;
    let nsg = 0;
    if (req.transit) {
      const securityOpen = req.csg === STAGE_SECURITY && !this.securityComplete();
      if (!securityOpen) {
        transit = true;
        nsg = req.nsg;
      }
    }
    if (transit && nsg === STAGE_FULL_FEATURE) {
      const unmet = this.negotiator!.unmetRequirement();
      if (unmet) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, `negotiation: ${unmet.message}`);
      // open-iscsi fails a login on unknown keys in a security-stage response: declare only from the operational stage.
      if (req.csg !== STAGE_SECURITY) reply.push(...this.negotiator!.finalDeclarations());
      this.complete(req, reply);
      return;
    }
    if (transit) this.stage = nsg;
    this.respond(req, { transit, nsg, pairs: reply });
  }

  private identify(keys: Map<string, string>): void {
    const name = keys.get('InitiatorName');
    if (!name) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'InitiatorName missing from the first login request');
    this.initiatorName = name;
    this.initiatorAlias = keys.get('InitiatorAlias');
    const type = keys.get('SessionType') ?? 'Normal';
    if (type !== 'Normal' && type !== 'Discovery') {
      throw new LoginFailure(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, `SessionType ${type}`);
    }
    this.sessionType = type;
    if (type === 'Normal') {
      const targetName = keys.get('TargetName');
      if (!targetName) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'TargetName missing for a Normal session');
      const target = this.ctx.targets.get(targetName);
      if (!target) throw new LoginFailure(LoginStatus.TARGET_NOT_FOUND, `no target ${targetName}`);
      this.target = target;
      this.authRequired = target.chap;
    } else {
      this.authRequired = this.ctx.discoveryChap;
    }
    this.negotiator = new OperationalNegotiator(type, this.ctx.negotiation);
    if (this.stage !== STAGE_SECURITY && this.authRequired) {
      throw new LoginFailure(LoginStatus.AUTH_FAILURE, 'login skipped security negotiation but the target requires CHAP');
    }
  }

  private securityComplete(): boolean {
    if (!this.authRequired) return this.authChosen !== 'CHAP' || this.authDone;
    return this.authDone;
  }

  private security(keys: Map<string, string>, reply: [string, string][]): void {
    const offered = keys.get('AuthMethod');
    if (offered !== undefined && this.authChosen === undefined) {
      const methods = offered.split(',');
      if (this.authRequired) {
        if (!methods.includes('CHAP')) throw new LoginFailure(LoginStatus.AUTH_FAILURE, `target requires CHAP, initiator offered ${offered}`);
        this.authChosen = 'CHAP';
        this.chap = new ChapTargetSession(this.authRequired, { replayCache: this.ctx.challengeCache });
      } else {
        if (!methods.includes('None')) throw new LoginFailure(LoginStatus.AUTH_FAILURE, `target has no authentication, initiator offered ${offered}`);
        this.authChosen = 'None';
        this.authDone = true;
      }
      reply.push(['AuthMethod', this.authChosen]);
    } else if (offered === undefined && this.authChosen === undefined && !this.authRequired) {
      this.authChosen = 'None';
      this.authDone = true;
    }
    const chapKeys = new Map([...keys].filter(([k]) => k.startsWith('CHAP_')));
    if (chapKeys.size > 0) {
      if (!this.chap || this.authDone) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'CHAP keys outside a CHAP negotiation');
      const r = this.chap.step(chapKeys);
      if (r.state === 'failure') throw new LoginFailure(LoginStatus.AUTH_FAILURE, `CHAP: ${r.reason ?? 'failed'}`);
      reply.push(...r.reply);
      if (r.state === 'success') this.authDone = true;
    }
  }

  private complete(req: LoginRequestPdu, reply: [string, string][]): void {
    const outcome: LoginOutcome = {
      initiatorName: this.initiatorName,
      initiatorAlias: this.initiatorAlias,
      isid: req.isid,
      requestedTsih: req.tsih,
      cid: req.cid,
      sessionType: this.sessionType,
      target: this.target,
      params: this.negotiator!.result(),
      cmdSN: req.cmdSN,
    };
    const attached = this.ctx.attach(this.conn, outcome);
    if (!('handler' in attached)) throw new LoginFailure(attached, 'session could not be created');
    this.finished = true;
    clearTimeout(this.timer);
    const data = encodeTextPairs(reply);
    this.conn.startStatSN(this.statSN);
    const statSN = this.conn.takeStatSN();
    this.conn.send(
      encodeLoginResponse({
        transit: true,
        cont: false,
        csg: req.csg,
        nsg: STAGE_FULL_FEATURE,
        versionMax: VERSION,
        versionActive: VERSION,
        isid: req.isid,
        tsih: attached.tsih,
        itt: req.itt,
        statSN,
        expCmdSN: attached.expCmdSN,
        maxCmdSN: attached.maxCmdSN,
        statusClass: 0,
        statusDetail: 0,
        dataLength: data.length,
      }),
      data,
    );
    this.conn.setHandler(attached.handler);
    this.conn.enterFullFeature(
      { headerDigest: outcome.params.headerDigest, dataDigest: outcome.params.dataDigest },
      outcome.params.maxRecvDataSegmentLength,
    );
    this.log.info(
      {
        initiator: this.initiatorName,
        target: this.target?.iqn,
        type: this.sessionType,
        tsih: attached.tsih,
        auth: this.authChosen,
        headerDigest: outcome.params.headerDigest,
        dataDigest: outcome.params.dataDigest,
      },
      'login complete',
    );
  }

  private respond(req: LoginRequestPdu, r: { transit: boolean; nsg: number; pairs: [string, string][] }): void {
    const data = encodeTextPairs(r.pairs);
    this.send(req, { transit: r.transit, nsg: r.nsg, status: LoginStatus.SUCCESS, data });
  }

  private fail(req: LoginRequestPdu, status: LoginStatusCode, why: string): void {
    this.finished = true;
    clearTimeout(this.timer);
    // The initiator learns only the status class; the log says why (CHAP details never go on the wire).
    this.log.warn({ remote: this.conn.remote, initiator: this.initiatorName || undefined, status, why }, 'login failed');
    this.send(req, { transit: false, nsg: 0, status, data: Buffer.alloc(0) });
    this.conn.close(`login failed: ${why}`);
  }

  private send(req: LoginRequestPdu, r: { transit: boolean; nsg: number; status: LoginStatusCode; data: Buffer }): void {
    const statSN = this.statSN;
    this.statSN = (this.statSN + 1) >>> 0;
    this.conn.send(
      encodeLoginResponse({
        transit: r.transit,
        cont: false,
        csg: req.csg,
        nsg: r.nsg,
        versionMax: VERSION,
        versionActive: VERSION,
        isid: req.isid,
        tsih: req.tsih,
        itt: req.itt,
        statSN,
        expCmdSN: req.cmdSN,
        maxCmdSN: req.cmdSN,
        statusClass: r.status[0],
        statusDetail: r.status[1],
        dataLength: r.data.length,
      }),
      r.data,
    );
  }
}
