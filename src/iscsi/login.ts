import type { Logger } from 'pino';
import type { ConnectionLink, PduHandler } from './connection-link.js';
import { realLoginTimers, type LoginContext, type LoginOutcome, type LoginTimers } from './login-context.js';
import { LoginFailure, boundForLog } from './login-failure.js';
import { STAGE_SECURITY, checkIdentityUnchanged, identifyLogin, type LoginIdentity } from './login-identity.js';
import { operationalKeys } from './login-keys.js';
import { LoginReplies, type LoginReply } from './login-replies.js';
import { STAGE_FULL_FEATURE, checkLoginRequestHeader } from './login-request-checks.js';
import { ContinuedLoginResponse, loginSegmentLimit, type LoginResponseEffect } from './login-response.js';
import { SecurityNegotiation } from './login-security.js';
import { LoginStatus, Op } from './opcodes.js';
import { opcodeOf, parseLoginRequest, type InPdu, type LoginRequestPdu } from './pdu.js';
import { TextAccumulator, encodeTextPairs } from './text.js';
import { readTextRound } from './text-round.js';
import { LogEvent } from '../shared/log-events.js';

export type { SessionType } from './login-identity.js';
export type { LoginContext, LoginOutcome, LoginTimers, SessionAttachment } from './login-context.js';

/**
 * The login phase of one connection (RFC 7143 §6): identification from the first complete
 * text, security negotiation (AuthMethod, CHAP), operational negotiation, then the switch to
 * full feature phase. Every failure is answered with one Login Response, logged once and counted.
 */
export class LoginHandler implements PduHandler {
  private first: LoginRequestPdu | undefined;
  private readonly replies: LoginReplies;
  private stage = STAGE_SECURITY;
  private identity: LoginIdentity | undefined;
  /** InitiatorName, TargetName and SessionType as sent, for the log of a login that fails before identification. */
  private claimedInitiator: string | undefined;
  private claimedTarget: string | undefined;
  private claimedType: string | undefined;
  private security: SecurityNegotiation | undefined;
  private sentTpgt = false;
  private continued: ContinuedLoginResponse | undefined;
  private readonly text = new TextAccumulator();
  private readonly timers: LoginTimers;
  private readonly timer: ReturnType<typeof setTimeout>;
  /** A failure answer held back by the CHAP throttle. */
  private held: ReturnType<typeof setTimeout> | undefined;
  private finished = false;

  constructor(
    private readonly conn: ConnectionLink,
    private readonly ctx: LoginContext,
    private readonly log: Logger,
  ) {
    this.replies = new LoginReplies(conn);
    this.timers = ctx.timers ?? realLoginTimers;
    this.timer = this.timers.setTimeout(() => this.onTimeout(), ctx.loginTimeoutMs);
    this.timer.unref?.();
  }

  onConnectionClosed(): void {
    this.timers.clearTimeout(this.timer);
    if (this.held !== undefined) this.timers.clearTimeout(this.held);
    this.finished = true;
  }

  /**
   * A PDU longer than the 8192 bytes a login may carry: only Login Responses may be sent during
   * login (RFC 7143 §6.1), so it is refused with one (initiator error), not a Reject.
   */
  onOversizedPdu(bhs: Buffer, length: number, max: number): boolean {
    if (this.finished) return true;
    const req = parseLoginRequest(bhs);
    const failure =
      opcodeOf(bhs) === Op.LOGIN_REQ
        ? new LoginFailure(LoginStatus.INITIATOR_ERROR, 'initiator_error', `login data segment of ${length} bytes, at most ${max} allowed`)
        : new LoginFailure(LoginStatus.INVALID_DURING_LOGIN, 'non_login_pdu', `PDU with opcode 0x${opcodeOf(bhs).toString(16)} during login`);
    if (this.first === undefined) this.replies.start(req.expStatSN);
    this.fail(req, failure);
    return true;
  }

  handlePdu(pdu: InPdu): void {
    if (this.finished) return;
    const req = parseLoginRequest(pdu.bhs);
    try {
      if (opcodeOf(pdu.bhs) !== Op.LOGIN_REQ) {
        // Only Login Requests are allowed before full feature phase (RFC 7143 §6.1).
        const op = `0x${opcodeOf(pdu.bhs).toString(16).padStart(2, '0')}`;
        throw new LoginFailure(LoginStatus.INVALID_DURING_LOGIN, 'non_login_pdu', `PDU with opcode ${op} during login`);
      }
      this.step(req, pdu);
    } catch (err) {
      if (err instanceof LoginFailure) {
        this.fail(req, err);
        return;
      }
      throw err;
    }
  }

  private step(req: LoginRequestPdu, pdu: InPdu): void {
    if (this.first === undefined) this.replies.start(req.expStatSN);
    const bad = checkLoginRequestHeader(req, this.first, this.stage);
    if (bad) throw bad;
    if (this.first === undefined) {
      this.first = req;
      this.stage = req.csg;
    }
    if (this.continued) {
      this.continueResponse(req, pdu);
      return;
    }

    const acc = readTextRound(this.text, pdu.data.toBuffer(), req.cont);
    if (!acc.ok) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'initiator_error', boundForLog(acc.error));
    if (acc.pairs === undefined) {
      // More text follows (C bit): acknowledge with an empty response in the same stage.
      this.send(req, { transit: false, cont: false, nsg: 0, data: Buffer.alloc(0) });
      return;
    }
    const pairs = acc.pairs;
    const keys = new Map<string, string>(pairs);

    // Identification runs on the first complete text, whichever PDU completed it.
    let identity = this.identity;
    let security = this.security;
    if (identity === undefined || security === undefined) {
      this.claimedInitiator = keys.get('InitiatorName');
      this.claimedTarget = keys.get('TargetName');
      this.claimedType = keys.get('SessionType');
      identity = identifyLogin(keys, this.stage, this.ctx);
      security = new SecurityNegotiation(identity, this.ctx, this.remoteAddress);
      this.identity = identity;
      this.security = security;
    } else {
      checkIdentityUnchanged(identity, keys);
    }

    const reply: [string, string][] = [];
    if (!this.sentTpgt && identity.target) {
      reply.push(['TargetPortalGroupTag', String(identity.target.portalGroupTag)]);
      this.sentTpgt = true;
    }

    const operational = operationalKeys(pairs);

    if (req.csg === STAGE_SECURITY) {
      reply.push(...security.step(keys, req.transit));
    } else if (!security.authenticated) {
      throw new LoginFailure(LoginStatus.AUTH_FAILURE, 'auth_required', 'operational stage without the required authentication');
    }

    if (operational.length > 0) {
      const r = identity.negotiator.respond(operational);
      if (r.error) {
        const missing = r.error.code === 'MISSING_KEY';
        throw new LoginFailure(
          missing ? LoginStatus.MISSING_PARAMETER : LoginStatus.INITIATOR_ERROR,
          missing ? 'missing_parameter' : 'negotiation_error',
          `negotiation: ${boundForLog(r.error.message)}`,
        );
      }
      reply.push(...r.reply);
    }

    let effect: LoginResponseEffect = { kind: 'stay' };
    const securityOpen = req.csg === STAGE_SECURITY && !security.complete;
    if (req.transit && !securityOpen) effect = { kind: 'transit', nsg: req.nsg };
    if (effect.kind === 'transit' && effect.nsg === STAGE_FULL_FEATURE) {
      const unmet = identity.negotiator.unmetRequirement();
      if (unmet) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'missing_parameter', `negotiation: ${unmet.message}`);
      // open-iscsi fails a login on unknown keys in a security-stage response: declare only from the operational stage.
      if (req.csg !== STAGE_SECURITY) reply.push(...identity.negotiator.finalDeclarations());
      effect = { kind: 'complete' };
    }
    this.answer(identity, req, encodeTextPairs(reply), effect);
  }

  /** Send the response to a complete request, in pieces if it is longer than the initiator takes. */
  private answer(identity: LoginIdentity, req: LoginRequestPdu, data: Buffer, effect: LoginResponseEffect): void {
    const limit = loginSegmentLimit(identity.negotiator.result().maxXmitDataSegmentLength);
    const { first, rest } = ContinuedLoginResponse.split(data, limit, effect);
    if (rest) {
      this.continued = rest;
      this.send(req, { transit: false, cont: true, nsg: 0, data: first });
      return;
    }
    this.finishResponse(identity, req, first, effect);
  }

  /** The initiator asks for the next piece of a continued response with an empty Login Request. */
  private continueResponse(req: LoginRequestPdu, pdu: InPdu): void {
    const continued = this.continued;
    const identity = this.identity;
    if (continued === undefined || identity === undefined) return;
    if (req.cont || pdu.data.length > 0) {
      throw new LoginFailure(
        LoginStatus.INITIATOR_ERROR,
        'initiator_error',
        'Login Request with text while the target response is being continued (expected an empty request)',
      );
    }
    const piece = continued.take();
    if (!piece.last) {
      this.send(req, { transit: false, cont: true, nsg: 0, data: piece.data });
      return;
    }
    this.continued = undefined;
    this.finishResponse(identity, req, piece.data, continued.effect);
  }

  private finishResponse(identity: LoginIdentity, req: LoginRequestPdu, data: Buffer, effect: LoginResponseEffect): void {
    switch (effect.kind) {
      case 'complete':
        this.complete(identity, req, data);
        return;
      case 'transit':
        this.stage = effect.nsg;
        this.send(req, { transit: true, cont: false, nsg: effect.nsg, data });
        return;
      case 'stay':
        this.send(req, { transit: false, cont: false, nsg: 0, data });
    }
  }

  private complete(identity: LoginIdentity, req: LoginRequestPdu, data: Buffer): void {
    const outcome: LoginOutcome = {
      initiatorName: identity.initiatorName,
      initiatorAlias: identity.initiatorAlias,
      isid: req.isid,
      requestedTsih: req.tsih,
      cid: req.cid,
      sessionType: identity.sessionType,
      target: identity.target,
      params: identity.negotiator.result(),
      cmdSN: req.cmdSN,
    };
    const attached = this.ctx.attach(outcome);
    if (!('handler' in attached)) {
      const reason =
        attached === LoginStatus.SESSION_DOES_NOT_EXIST
          ? 'session_does_not_exist'
          : attached === LoginStatus.AUTHORIZATION_FAILURE
            ? 'not_in_acl'
            : 'out_of_resources';
      throw new LoginFailure(attached, reason, 'session could not be created');
    }
    this.finished = true;
    this.timers.clearTimeout(this.timer);
    this.replies.sendFinal(req, {
      transit: true,
      cont: false,
      nsg: STAGE_FULL_FEATURE,
      data,
      tsih: attached.tsih,
      window: { expCmdSN: attached.expCmdSN, maxCmdSN: attached.maxCmdSN },
    });
    this.conn.setHandler(attached.handler);
    this.conn.enterFullFeature(
      { headerDigest: outcome.params.headerDigest, dataDigest: outcome.params.dataDigest },
      outcome.params.maxRecvDataSegmentLength,
    );
    this.record('success', { tsih: attached.tsih });
    const p = outcome.params;
    this.log.info(
      {
        event: LogEvent.login,
        remote: this.conn.remote,
        initiator: identity.initiatorName,
        target: identity.target?.iqn,
        sessionType: identity.sessionType,
        isid: req.isid.toString('hex'), // as GET /v1/sessions shows it
        tsih: attached.tsih,
        cid: req.cid,
        auth: this.security?.method ?? 'None',
        headerDigest: p.headerDigest ? 'CRC32C' : 'None',
        dataDigest: p.dataDigest ? 'CRC32C' : 'None',
        maxRecvDataSegmentLength: p.maxRecvDataSegmentLength,
        maxXmitDataSegmentLength: p.maxXmitDataSegmentLength,
        maxBurstLength: p.maxBurstLength,
        firstBurstLength: p.firstBurstLength,
        immediateData: p.immediateData,
        initialR2T: p.initialR2T,
      },
      'login complete',
    );
  }

  private get remoteAddress(): string {
    return this.conn.remoteAddress;
  }

  private onTimeout(): void {
    if (this.finished) return;
    this.finished = true;
    this.ctx.failures.add('timeout');
    this.record('failure', { reason: 'timeout', detail: `no complete login within ${this.ctx.loginTimeoutMs} ms` });
    this.log.warn(
      {
        event: LogEvent.loginFailed,
        remote: this.conn.remote,
        initiator: this.loggedInitiator(),
        target: this.loggedTarget(),
        reason: 'timeout',
        detail: `no complete login within ${this.ctx.loginTimeoutMs} ms`,
      },
      'login failed',
    );
    this.conn.destroy('login timeout');
  }

  /**
   * Refuse the login: one Login Response with the status, then close. A failed CHAP answer is
   * charged to the throttle and its answer held back for the delay it sets (other connections
   * go on meanwhile). The initiator learns only the status; the log says why, once.
   */
  private fail(req: LoginRequestPdu, failure: LoginFailure): void {
    this.finished = true;
    this.timers.clearTimeout(this.timer);
    this.continued = undefined;
    let delayMs = 0;
    let throttle: { failures: number; lockedOut: boolean } | undefined;
    if (failure.authAttempt && this.identity) {
      const verdict = this.ctx.authThrottle.recordFailure(this.identity.initiatorName, this.remoteAddress);
      delayMs = verdict.delayMs;
      throttle = { failures: verdict.failures, lockedOut: verdict.lockedOut };
    }
    this.ctx.failures.add(failure.reason);
    this.record('failure', { reason: failure.reason, detail: failure.message });
    this.log.warn(
      {
        event: LogEvent.loginFailed,
        remote: this.conn.remote,
        initiator: this.loggedInitiator(),
        target: this.loggedTarget(),
        status: `${hex2(failure.status[0])}${hex2(failure.status[1])}`,
        reason: failure.reason,
        detail: boundForLog(failure.message, 300),
        ...(throttle ? { consecutiveFailures: throttle.failures, lockedOut: throttle.lockedOut, answerDelayMs: delayMs } : {}),
      },
      'login failed',
    );
    const answer = (): void => {
      this.held = undefined;
      // CSG: the stage the login is in, not what the request claimed (it may be 2 or 3, which no response may carry).
      this.send(req, { transit: false, cont: false, csg: this.stage, nsg: 0, status: failure.status, data: Buffer.alloc(0) });
      this.conn.close(`login failed: ${failure.reason}`);
    };
    if (delayMs > 0) this.held = this.timers.setTimeout(answer, delayMs);
    else answer();
  }

  /** One attempt into the login log (GET /v1/logins): the same reason and detail as the log line. */
  private record(outcome: 'success' | 'failure', more: { reason?: string; detail?: string; tsih?: number }): void {
    const log = this.ctx.loginLog;
    if (log === undefined) return;
    const type = this.identity?.sessionType ?? this.claimedType;
    log.record({
      at: Date.now(),
      initiatorName: this.identity?.initiatorName ?? this.claimedInitiator,
      sourceAddress: this.conn.remoteAddress,
      sourcePort: this.conn.remotePort,
      target: this.identity?.target?.iqn ?? (type === 'Discovery' ? undefined : this.claimedTarget),
      sessionType: type === 'Discovery' || type === 'Normal' ? type : this.claimedTarget === undefined ? undefined : 'Normal',
      outcome,
      ...more,
    });
  }

  private loggedInitiator(): string | undefined {
    const name = this.identity?.initiatorName ?? this.claimedInitiator;
    return name === undefined ? undefined : boundForLog(name);
  }

  /** The target asked for, even one that does not exist (the operator wants to see the typo). */
  private loggedTarget(): string | undefined {
    const name = this.identity?.target?.iqn ?? this.claimedTarget;
    return name === undefined ? undefined : boundForLog(name);
  }

  private send(req: LoginRequestPdu, r: LoginReply): void {
    this.replies.send(req, r);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
