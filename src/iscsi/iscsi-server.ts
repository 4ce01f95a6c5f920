import type { Logger } from 'pino';
import { AuthThrottle, type AuthThrottleConfig } from './auth-throttle.js';
import { ChallengeCache, type ChapTargetConfig } from './chap.js';
import type { Connection, ConnectionOptions } from './connection.js';
import type { ConnectionLink } from './connection-link.js';
import { LoginHandler, type LoginOutcome, type SessionAttachment } from './login.js';
import { LoginFailureCounts } from './login-failure.js';
import { LoginLog } from './login-log.js';
import type { TargetNegotiationConfig } from './session-params.js';
import { AsyncEvent, encodeAsyncMessage } from './pdu.js';
import { LoginStatus, type LoginStatusCode } from './opcodes.js';
import { Portal } from './portal.js';
import { Session } from './session.js';
import { SessionTable, sessionKey } from './session-table.js';
import { TargetRegistry, type IscsiTarget, type PortalAddress } from './target.js';
import { ConnectionAdmission, type AdmissionLimits } from './admission.js';
import { ByteBudget } from './byte-budget.js';
import { PeerWarnings } from './peer-warnings.js';
import { ScatterError } from '../shared/errors.js';
import { OPEN_ACCESS, lunViewFor, permits, type TargetAccess } from './target-access.js';
import { LogEvent } from '../shared/log-events.js';

export interface IscsiServerOptions {
  readonly portals: readonly PortalAddress[];
  readonly negotiation: TargetNegotiationConfig;
  readonly connection: ConnectionOptions;
  readonly discoveryChap?: ChapTargetConfig;
  readonly maxCmdWindow: number;
  /** Write data (immediate, unsolicited, solicited) held across all sessions (default 256 MiB). */
  readonly maxBufferedWriteBytes?: number;
  /** The most of it one session may hold (default a quarter). */
  readonly maxBufferedWriteBytesPerSession?: number;
  /** Data-In being read or queued across all connections (default 256 MiB). */
  readonly maxBufferedReadBytes?: number;
  /** ... and for one connection, its socket's backlog included (default 16 MiB). */
  readonly maxQueuedBytesPerConnection?: number;
  /** Immediate SCSI commands one session may have outstanding (default 16). */
  readonly maxImmediateCommands?: number;
  /** Write commands wait this long for Data-Out the initiator owes before they end (default 30 s). */
  readonly dataOutTimeoutMs?: number;
  readonly admission: AdmissionLimits;
  readonly loginTimeoutMs: number;
  /** CHAP failure delays and lockouts (defaults: DEFAULT_AUTH_THROTTLE). */
  readonly authThrottle?: AuthThrottleConfig;
}

export const DEFAULT_BUFFERED_WRITE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_BUFFERED_READ_BYTES = 256 * 1024 * 1024;
const DEFAULT_QUEUED_BYTES_PER_CONNECTION = 16 * 1024 * 1024;

/** The iSCSI transport: portals, login, sessions, discovery; SCSI work goes to each target's SCSI core. */
export class IscsiServer {
  readonly targets = new TargetRegistry();
  readonly sessions = new SessionTable<Session>();
  private readonly portals: Portal[] = [];
  private readonly challengeCache = new ChallengeCache();
  readonly authThrottle: AuthThrottle;
  /** Failed logins by reason (metric scatter_iscsi_login_failures_total). */
  readonly loginFailures = new LoginFailureCounts();
  /** The last login attempts per initiator (GET /v1/logins). */
  readonly loginLog = new LoginLog();
  private nexusCounter = 0;
  private readonly nexusIds = { next: () => ++this.nexusCounter };
  /** Write data held for commands, with a per-session share (see byte-budget.ts). */
  readonly writeBudget: ByteBudget;
  /** Data-In being read or waiting for the socket, with a per-connection share. */
  readonly readBudget: ByteBudget;
  readonly admission: ConnectionAdmission<Connection>;
  private readonly warnings: PeerWarnings;
  private readonly connectionOptions: ConnectionOptions;
  /** What new logins negotiate and how discovery authenticates: replaced live (setNegotiation, setDiscoveryChap). */
  private negotiation: TargetNegotiationConfig;
  private discoveryChap: ChapTargetConfig | undefined;

  constructor(
    private readonly opts: IscsiServerOptions,
    private readonly log: Logger,
  ) {
    const writeLimit = opts.maxBufferedWriteBytes ?? DEFAULT_BUFFERED_WRITE_BYTES;
    this.writeBudget = new ByteBudget(writeLimit, opts.maxBufferedWriteBytesPerSession ?? Math.max(1, Math.floor(writeLimit / 4)));
    const readLimit = opts.maxBufferedReadBytes ?? DEFAULT_BUFFERED_READ_BYTES;
    this.readBudget = new ByteBudget(readLimit, Math.min(readLimit, opts.maxQueuedBytesPerConnection ?? DEFAULT_QUEUED_BYTES_PER_CONNECTION));
    this.admission = new ConnectionAdmission(opts.admission);
    this.warnings = new PeerWarnings(log);
    this.connectionOptions = {
      ...opts.connection,
      warnings: this.warnings,
      deadlines: opts.connection.deadlines && { ...opts.connection.deadlines, handlerMs: opts.dataOutTimeoutMs },
    };
    this.authThrottle = new AuthThrottle(opts.authThrottle);
    this.negotiation = opts.negotiation;
    this.discoveryChap = opts.discoveryChap;
  }

  /** The next logins negotiate with these; sessions logged in keep what they have. */
  setNegotiation(negotiation: TargetNegotiationConfig): void {
    this.negotiation = negotiation;
  }

  /** CHAP for the next discovery logins (undefined: none). */
  setDiscoveryChap(chap: ChapTargetConfig | undefined): void {
    this.discoveryChap = chap;
  }

  /** Listen on every portal; returns the ports bound (port 0 picks a free one). */
  async start(): Promise<number[]> {
    const ports: number[] = [];
    for (const address of this.opts.portals) {
      const portal = new Portal(address, this.log, this.connectionOptions, (c) => this.onConnection(c));
      ports.push(await portal.listen());
      this.portals.push(portal);
      this.log.info({ host: address.host, port: portal.boundPort }, 'portal listening');
    }
    return ports;
  }

  /**
   * Listen on one more portal (a live change). Rejects, having changed nothing, when the address
   * cannot be bound (in use, not local) or is served already.
   */
  async addPortal(address: PortalAddress): Promise<number> {
    if (this.findPortal(address)) throw new Error(`portal ${address.host}:${address.port} is served already`);
    const portal = new Portal(address, this.log, this.connectionOptions, (c) => this.onConnection(c));
    let port: number;
    try {
      port = await portal.listen();
    } catch (err) {
      await portal.close();
      throw new Error(`portal ${address.host}:${address.port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.portals.push(portal);
    this.log.info({ host: address.host, port }, 'portal listening');
    return port;
  }

  /**
   * Stop serving a portal: its listener closes and the connections that came in through it are
   * dropped (the operator no longer wants storage reachable there; initiators fail over or retry).
   */
  async removePortal(address: PortalAddress): Promise<void> {
    const portal = this.findPortal(address);
    if (!portal) throw new Error(`portal ${address.host}:${address.port} is not served`);
    this.portals.splice(this.portals.indexOf(portal), 1);
    const closed = portal.close();
    portal.destroyConnections();
    await closed;
    this.log.info({ host: address.host, port: address.port }, 'portal closed');
  }

  /** The portal configured as `address` (host compared case-insensitively, port as configured). */
  private findPortal(address: PortalAddress): Portal | undefined {
    const host = address.host.toLowerCase();
    return this.portals.find((p) => p.address.host.toLowerCase() === host && p.address.port === address.port);
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
    const verdict = this.admission.admit(conn);
    if (!verdict.admitted) {
      conn.warn({ connections: this.admission.total }, 'every connection slot holds a logged-in session; refusing');
      conn.destroy('connection limit reached');
      return;
    }
    conn.socket.once('close', () => this.admission.closed(conn));
    conn.log.debug({ evicted: verdict.evicted }, 'connection accepted');
    conn.setHandler(
      new LoginHandler(
        conn,
        {
          targets: this.targets,
          negotiation: this.negotiation,
          discoveryChap: this.discoveryChap,
          challengeCache: this.challengeCache,
          loginTimeoutMs: this.opts.loginTimeoutMs,
          authThrottle: this.authThrottle,
          failures: this.loginFailures,
          loginLog: this.loginLog,
          attach: (outcome) => this.attach(conn, outcome),
        },
        conn.log,
      ),
    );
  }

  private attach(conn: Connection, outcome: LoginOutcome): SessionAttachment | LoginStatusCode {
    // The ACL may have changed while this login ran.
    if (outcome.target && !permits(outcome.target.access ?? OPEN_ACCESS, outcome.initiatorName)) return LoginStatus.AUTHORIZATION_FAILURE;
    const key = sessionKey(outcome.initiatorName, outcome.isid, outcome.target?.iqn ?? '');
    let replaced: { tsih: number; kind: 'session' | 'connection' } | undefined;
    if (outcome.requestedTsih !== 0) {
      // A connection for an existing session: with MaxConnections=1 and ERL 0 that is the
      // old connection coming back (connection reinstatement); its tasks are lost.
      const existing = this.sessions.get(outcome.requestedTsih);
      if (!existing || existing.key !== key) return LoginStatus.SESSION_DOES_NOT_EXIST;
      replaced = { tsih: existing.tsih, kind: 'connection' };
      this.closeInBackground(existing, 'connection reinstated');
    } else {
      // Same InitiatorName + ISID + target: session reinstatement (RFC 7143 §6.3.5).
      const old = this.sessions.byIdentity(key);
      if (old) {
        replaced = { tsih: old.tsih, kind: 'session' };
        this.closeInBackground(old, 'session reinstated');
      }
    }
    const tsih = this.sessions.allocateTsih();
    if (tsih === undefined) return LoginStatus.OUT_OF_RESOURCES;
    const session = new Session(tsih, outcome, conn, {
      // The connection's logger: the session's lines carry the connection's address too.
      log: conn.log,
      sendTargets: (value, s, c) => this.sendTargets(value, s, c),
      onClosed: (s) => this.sessions.remove(s),
      sessionsOf: (target) => this.sessions.all().filter((s) => s.target === target),
      maxCmdWindow: this.opts.maxCmdWindow,
      writeBudget: this.writeBudget,
      readBudget: this.readBudget,
      maxImmediateCommands: this.opts.maxImmediateCommands ?? 16,
      dataOutTimeoutMs: this.opts.dataOutTimeoutMs ?? 30_000,
      nexusIds: this.nexusIds,
    });
    this.sessions.add(session);
    if (replaced) {
      session.log.info(
        { event: LogEvent.sessionReinstated, isid: outcome.isid.toString('hex'), replacedTsih: replaced.tsih, reinstated: replaced.kind },
        'session reinstated: the old one is closed and its tasks aborted',
      );
    }
    this.admission.promote(conn);
    conn.loggedIn = true;
    return { tsih, expCmdSN: session.window.expCmdSN, maxCmdSN: session.window.maxCmdSN, handler: session };
  }

  private closeInBackground(session: Session, reason: string): void {
    session.close(reason).catch((err: unknown) => this.log.error({ err, tsih: session.tsih }, 'closing a session failed'));
  }

  /**
   * SendTargets (RFC 7143 Appendix C): every target (All), one by name, or the session's own (empty);
   * a target whose ACL does not admit this initiator is not shown to it.
   */
  private sendTargets(value: string, session: Session, conn: ConnectionLink): [string, string][] {
    let targets: IscsiTarget[];
    if (value === 'All') targets = this.targets.all();
    else if (value === '') targets = session.target ? [session.target] : [];
    else {
      const t = this.targets.get(value);
      targets = t ? [t] : [];
    }
    const initiator = session.outcome.initiatorName;
    const out: [string, string][] = [];
    for (const t of targets.filter((target) => permits(target.access ?? OPEN_ACCESS, initiator))) {
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
   * Replace who may log in to target `iqn` and which LUNs each initiator sees, at run time:
   * - the next login and SendTargets use `access` (an ACL's CHAP included);
   * - each live session whose initiator is still admitted gets its LUN view replaced; where the LUNs
   *   it addresses (or their numbers) changed, the SCSI core raises REPORTED LUNS DATA HAS CHANGED;
   * - each live session whose initiator is no longer admitted is asked to log out (Async Message,
   *   event 1) and closed after `graceMs` if it is still there.
   * Resolves once those sessions have ended. Throws (changing nothing) when there is no such target.
   */
  async setTargetAccess(iqn: string, access: TargetAccess, graceMs = 2000): Promise<{ updated: number; ended: number }> {
    const target = this.targets.get(iqn);
    if (!target) throw new ScatterError('TARGET_NOT_FOUND', `no target ${iqn}`);
    target.access = access;
    const revoked: Session[] = [];
    let updated = 0;
    for (const s of this.sessions.all()) {
      if (s.target !== target) continue;
      if (permits(access, s.outcome.initiatorName)) {
        target.scsi.setNexusView(s.nexus, lunViewFor(access, s.outcome.initiatorName));
        updated++;
      } else {
        s.log.info({ target: target.iqn }, 'initiator no longer in the ACL; asking it to log out');
        revoked.push(s);
      }
    }
    await this.logoutSessions(revoked, 'access revoked', graceMs);
    return { updated, ended: revoked.length };
  }

  /**
   * Ask the initiator to log out of one session (Async Message, event 1: "logout within
   * Parameter3 seconds") and close it after `graceMs` if it is still there (admin API).
   * False when no session has that TSIH.
   */
  logoutSession(tsih: number, graceMs: number): boolean {
    const session = this.sessions.get(tsih);
    if (session === undefined) return false;
    this.logoutSessions([session], 'logout requested by the administrator', graceMs).catch((err: unknown) =>
      this.log.error({ err, tsih }, 'closing a session failed'),
    );
    return true;
  }

  /**
   * Ask the initiators of `sessions` to log out (Async Message, event 1, RFC 7143 §11.9.1), give
   * them `graceMs` to do so, then close what is left. Resolves once every one of them has ended.
   */
  async logoutSessions(sessions: readonly Session[], reason: string, graceMs: number): Promise<void> {
    for (const s of sessions) this.requestLogout(s, graceMs);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(sessions.map((s) => s.whenClosed)), graceOver]);
    clearTimeout(timer);
    await Promise.all(sessions.map((s) => s.close(reason)));
  }

  private requestLogout(s: Session, graceMs: number): void {
    if (s.conn.isClosed) return;
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

  /**
   * Shut down: ask every initiator to log out (Async Message, event 1), give them
   * `graceMs` to do so, then close what is left.
   */
  async stop(graceMs = 2000): Promise<void> {
    // Portal.close() resolves only once every connection is gone, so await it last.
    const listenersClosed = Promise.all(this.portals.map((p) => p.close()));
    await this.logoutSessions(this.sessions.all(), 'target shutting down', graceMs);
    for (const p of this.portals) p.destroyConnections();
    await listenersClosed;
  }
}
