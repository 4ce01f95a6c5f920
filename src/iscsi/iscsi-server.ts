import type { Logger } from 'pino';
import { AuthThrottle, type AuthThrottleConfig } from './auth-throttle.js';
import { ChallengeCache, type ChapTargetConfig } from './chap.js';
import type { Connection, ConnectionOptions } from './connection.js';
import type { ConnectionLink } from './connection-link.js';
import { LoginHandler, type LoginOutcome, type SessionAttachment } from './login.js';
import { LoginFailureCounts } from './login-failure.js';
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
  private nexusCounter = 0;
  private readonly nexusIds = { next: () => ++this.nexusCounter };
  /** Write data held for commands, with a per-session share (see byte-budget.ts). */
  readonly writeBudget: ByteBudget;
  /** Data-In being read or waiting for the socket, with a per-connection share. */
  readonly readBudget: ByteBudget;
  readonly admission: ConnectionAdmission<Connection>;
  private readonly warnings: PeerWarnings;
  private readonly connectionOptions: ConnectionOptions;

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
          negotiation: this.opts.negotiation,
          discoveryChap: this.opts.discoveryChap,
          challengeCache: this.challengeCache,
          loginTimeoutMs: this.opts.loginTimeoutMs,
          authThrottle: this.authThrottle,
          failures: this.loginFailures,
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
    if (outcome.requestedTsih !== 0) {
      // A connection for an existing session: with MaxConnections=1 and ERL 0 that is the
      // old connection coming back (connection reinstatement); its tasks are lost.
      const existing = this.sessions.get(outcome.requestedTsih);
      if (!existing || existing.key !== key) return LoginStatus.SESSION_DOES_NOT_EXIST;
      this.closeInBackground(existing, 'connection reinstated');
    } else {
      // Same InitiatorName + ISID + target: session reinstatement (RFC 7143 §6.3.5).
      const old = this.sessions.byIdentity(key);
      if (old) this.closeInBackground(old, 'session reinstated');
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
      readBudget: this.readBudget,
      maxImmediateCommands: this.opts.maxImmediateCommands ?? 16,
      dataOutTimeoutMs: this.opts.dataOutTimeoutMs ?? 30_000,
      nexusIds: this.nexusIds,
    });
    this.sessions.add(session);
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
    const ending: Promise<void>[] = [];
    let updated = 0;
    for (const s of this.sessions.all()) {
      if (s.target !== target) continue;
      if (permits(access, s.outcome.initiatorName)) {
        target.scsi.setNexusView(s.nexus, lunViewFor(access, s.outcome.initiatorName));
        updated++;
      } else {
        s.log.info({ target: target.iqn }, 'initiator no longer in the ACL; asking it to log out');
        ending.push(this.endWithGrace(s, graceMs, 'access revoked'));
      }
    }
    await Promise.all(ending);
    return { updated, ended: ending.length };
  }

  /** Async Message "logout requested" (RFC 7143 §11.9.1, event 1): the initiator should log out within `graceMs`. */
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

  /** Ask the session's initiator to log out; close the session if it has not ended within `graceMs`. */
  private async endWithGrace(s: Session, graceMs: number, reason: string): Promise<void> {
    this.requestLogout(s, graceMs);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([s.closed, expired]);
    clearTimeout(timer);
    await s.close(reason);
  }

  /**
   * Shut down: ask every initiator to log out (Async Message, event 1), give them
   * `graceMs` to do so, then close what is left.
   */
  async stop(graceMs = 2000): Promise<void> {
    // net.Server.close() resolves only once every connection is gone, so await it last.
    const listenersClosed = Promise.all(this.portals.map((p) => p.close()));
    for (const s of this.sessions.all()) this.requestLogout(s, graceMs);
    const deadline = Date.now() + graceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(this.sessions.all().map((s) => s.close('target shutting down')));
    for (const p of this.portals) p.destroyConnections();
    await listenersClosed;
  }
}
