import type { Logger } from 'pino';
import { AuthThrottle, type AuthThrottleConfig } from './auth-throttle.js';
import { ChallengeCache, type ChapTargetConfig } from './chap.js';
import type { Connection, ConnectionOptions } from './connection.js';
import { LoginHandler, type LoginOutcome, type SessionAttachment } from './login.js';
import { LoginFailureCounts } from './login-failure.js';
import type { TargetNegotiationConfig } from './session-params.js';
import { AsyncEvent, encodeAsyncMessage } from './pdu.js';
import { LoginStatus, type LoginStatusCode } from './opcodes.js';
import { Portal } from './portal.js';
import { Session } from './session.js';
import { SessionTable, sessionKey } from './session-table.js';
import { TargetRegistry, type IscsiTarget, type PortalAddress } from './target.js';
import { WriteBudget } from './write-budget.js';

export interface IscsiServerOptions {
  readonly portals: readonly PortalAddress[];
  readonly negotiation: TargetNegotiationConfig;
  readonly connection: ConnectionOptions;
  readonly discoveryChap?: ChapTargetConfig;
  readonly maxCmdWindow: number;
  /** Solicited Data-Out bytes held across all sessions before further R2Ts wait (default 256 MiB). */
  readonly maxBufferedWriteBytes?: number;
  readonly maxConnections: number;
  readonly loginTimeoutMs: number;
  /** CHAP failure delays and lockouts (defaults: DEFAULT_AUTH_THROTTLE). */
  readonly authThrottle?: AuthThrottleConfig;
}

export const DEFAULT_BUFFERED_WRITE_BYTES = 256 * 1024 * 1024;

/** The iSCSI transport: portals, login, sessions, discovery; SCSI work goes to each target's SCSI core. */
export class IscsiServer {
  readonly targets = new TargetRegistry();
  readonly sessions = new SessionTable<Session>();
  private readonly portals: Portal[] = [];
  private readonly challengeCache = new ChallengeCache();
  readonly authThrottle: AuthThrottle;
  /** Failed logins by reason (metric scatter_iscsi_login_failures_total). */
  readonly loginFailures = new LoginFailureCounts();
  private nexusCounter = 0;
  private readonly nexusIds = { next: () => ++this.nexusCounter };
  readonly writeBudget: WriteBudget;

  constructor(
    private readonly opts: IscsiServerOptions,
    private readonly log: Logger,
  ) {
    this.writeBudget = new WriteBudget(opts.maxBufferedWriteBytes ?? DEFAULT_BUFFERED_WRITE_BYTES);
    this.authThrottle = new AuthThrottle(opts.authThrottle);
  }

  /** Listen on every portal; returns the ports bound (port 0 picks a free one). */
  async start(): Promise<number[]> {
    const ports: number[] = [];
    for (const address of this.opts.portals) {
      const portal = new Portal(address, this.log, this.opts.connection, (c) => this.onConnection(c), this.opts.maxConnections);
      ports.push(await portal.listen());
      this.portals.push(portal);
      this.log.info({ host: address.host, port: portal.boundPort }, 'portal listening');
    }
    return ports;
  }

  /** Portals as the initiators reach them (with the port actually bound). */
  get boundPortals(): PortalAddress[] {
    return this.portals.map((p) => ({ host: p.address.host, port: p.boundPort }));
  }

  /** TCP connections open on all portals (logins in progress included). */
  get connectionCount(): number {
    return this.portals.reduce((n, p) => n + p.connectionCount, 0);
  }

  private onConnection(conn: Connection): void {
    conn.log.debug('connection accepted');
    conn.setHandler(
      new LoginHandler(
        conn,
        {
          targets: this.targets,
          negotiation: this.opts.negotiation,
          discoveryChap: this.opts.discoveryChap,
          challengeCache: this.challengeCache,
          loginTimeoutMs: this.opts.loginTimeoutMs,
          authThrottle: this.authThrottle,
          failures: this.loginFailures,
          attach: (c, outcome) => this.attach(c, outcome),
        },
        conn.log,
      ),
    );
  }

  private attach(conn: Connection, outcome: LoginOutcome): SessionAttachment | LoginStatusCode {
    const key = sessionKey(outcome.initiatorName, outcome.isid, outcome.target?.iqn ?? '');
    if (outcome.requestedTsih !== 0) {
      // A connection for an existing session: with MaxConnections=1 and ERL 0 that is the
      // old connection coming back (connection reinstatement); its tasks are lost.
      const existing = this.sessions.get(outcome.requestedTsih);
      if (!existing || existing.key !== key) return LoginStatus.SESSION_DOES_NOT_EXIST;
      void existing.close('connection reinstated');
    } else {
      // Same InitiatorName + ISID + target: session reinstatement (RFC 7143 §6.3.5).
      const old = this.sessions.byIdentity(key);
      if (old) void old.close('session reinstated');
    }
    const tsih = this.sessions.allocateTsih();
    if (tsih === undefined) return LoginStatus.OUT_OF_RESOURCES;
    const session = new Session(tsih, outcome, conn, {
      log: this.log,
      sendTargets: (value, s, c) => this.sendTargets(value, s, c),
      onClosed: (s) => this.sessions.remove(s),
      sessionsOf: (target) => this.sessions.all().filter((s) => s.target === target),
      maxCmdWindow: this.opts.maxCmdWindow,
      writeBudget: this.writeBudget,
      nexusIds: this.nexusIds,
    });
    this.sessions.add(session);
    return { tsih, expCmdSN: session.window.expCmdSN, maxCmdSN: session.window.maxCmdSN, handler: session };
  }

  /** SendTargets (RFC 7143 Appendix C): every target (All), one by name, or the session's own (empty). */
  private sendTargets(value: string, session: Session, conn: Connection): [string, string][] {
    let targets: IscsiTarget[];
    if (value === 'All') targets = this.targets.all();
    else if (value === '') targets = session.target ? [session.target] : [];
    else {
      const t = this.targets.get(value);
      targets = t ? [t] : [];
    }
    const out: [string, string][] = [];
    for (const t of targets) {
      out.push(['TargetName', t.iqn]);
      for (const p of this.boundPortals) {
        const wildcard = p.host === '0.0.0.0' || p.host === '::';
        // A wildcard portal is announced with the address this connection came in on.
        const host = wildcard ? conn.localAddress.replace(/^::ffff:/, '') : p.host;
        const shown = host.includes(':') ? `[${host}]` : host;
        out.push(['TargetAddress', `${shown}:${p.port},${t.portalGroupTag}`]);
      }
    }
    return out;
  }

  /**
   * Shut down: ask every initiator to log out (Async Message, event 1), give them
   * `graceMs` to do so, then close what is left.
   */
  async stop(graceMs = 2000): Promise<void> {
    // net.Server.close() resolves only once every connection is gone, so await it last.
    const listenersClosed = Promise.all(this.portals.map((p) => p.close()));
    const sessions = this.sessions.all();
    for (const s of sessions) {
      if (s.conn.isClosed) continue;
      s.conn.send(
        encodeAsyncMessage({
          lun: 0,
          event: AsyncEvent.LOGOUT_REQUEST,
          vcode: 0,
          parameter1: 0,
          parameter2: 0,
          parameter3: Math.max(1, Math.ceil(graceMs / 1000)),
          statSN: s.conn.takeStatSN(),
          expCmdSN: s.window.expCmdSN,
          maxCmdSN: s.window.maxCmdSN,
          dataLength: 0,
        }),
      );
    }
    const deadline = Date.now() + graceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(this.sessions.all().map((s) => s.close('target shutting down')));
    for (const p of this.portals) p.destroyConnections();
    await listenersClosed;
  }
}
