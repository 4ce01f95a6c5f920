/** What admission needs to know of a connection. */
export interface AdmittedConnection {
  /** Source address (per-address limits). */
  readonly peer: string;
  /** PDUs received so far: 0 = an idle stranger that has not even sent a Login Request. */
  readonly pdusReceived: number;
  destroy(reason: string): void;
}

export interface AdmissionLimits {
  /** TCP connections on all portals together. */
  readonly maxConnections: number;
  /** Connections that have not completed login. */
  readonly maxPreLogin: number;
  /** Pre-login connections from one source address. */
  readonly maxPreLoginPerAddress: number;
}

export type AdmissionVerdict = { readonly admitted: true; readonly evicted: number } | { readonly admitted: false };

/**
 * Admission of TCP connections to the portals. Connections that have not logged in yet live in a
 * small budget of their own (total and per source address); when it is full, a newcomer is let in
 * and the oldest pre-login connection is dropped instead — idle ones (no PDU at all) first, then
 * those of the crowded address. So strangers that connect and say nothing can never keep out an
 * initiator that logs in or reconnects its session: a real login takes milliseconds, an idle
 * stranger is the first to go. Only when every slot holds a logged-in session is a newcomer refused.
 */
export class ConnectionAdmission<C extends AdmittedConnection> {
  /** Pre-login connections, oldest first (Map keeps insertion order). */
  private readonly preLogin = new Map<C, true>();
  private readonly perAddress = new Map<string, number>();
  private readonly loggedIn = new Set<C>();
  private evictedTotal = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  get preLoginCount(): number {
    return this.preLogin.size;
  }

  get total(): number {
    return this.preLogin.size + this.loggedIn.size;
  }

  /** Pre-login connections dropped for newcomers since start. */
  get evicted(): number {
    return this.evictedTotal;
  }

  /** A new connection: admitted (perhaps at the cost of older pre-login ones) or refused. */
  admit(conn: C): AdmissionVerdict {
    let evicted = 0;
    const evict = (victim: C | undefined): boolean => {
      if (!victim) return false;
      this.forget(victim);
      evicted++;
      this.evictedTotal++;
      victim.destroy('pre-login connection evicted for a newcomer');
      return true;
    };
    if ((this.perAddress.get(conn.peer) ?? 0) >= this.limits.maxPreLoginPerAddress) {
      evict(this.oldest((c) => c.peer === conn.peer));
    }
    if (this.preLogin.size >= this.limits.maxPreLogin) evict(this.oldest());
    if (this.total >= this.limits.maxConnections && !evict(this.oldest())) return { admitted: false };
    this.preLogin.set(conn, true);
    this.perAddress.set(conn.peer, (this.perAddress.get(conn.peer) ?? 0) + 1);
    return { admitted: true, evicted };
  }

  /** Login completed: the connection leaves the pre-login budget. */
  promote(conn: C): void {
    if (!this.preLogin.has(conn)) return;
    this.forget(conn);
    this.loggedIn.add(conn);
  }

  /** The connection closed (whatever its state). */
  closed(conn: C): void {
    this.forget(conn);
    this.loggedIn.delete(conn);
  }

  /** The oldest pre-login connection that matches, preferring one that has sent nothing. */
  private oldest(match: (c: C) => boolean = () => true): C | undefined {
    let fallback: C | undefined;
    for (const c of this.preLogin.keys()) {
      if (!match(c)) continue;
      if (c.pdusReceived === 0) return c;
      fallback ??= c;
    }
    return fallback;
  }

  private forget(conn: C): void {
    if (!this.preLogin.delete(conn)) return;
    const n = (this.perAddress.get(conn.peer) ?? 1) - 1;
    if (n > 0) this.perAddress.set(conn.peer, n);
    else this.perAddress.delete(conn.peer);
  }
}
