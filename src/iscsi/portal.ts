import net from 'node:net';
import type { Logger } from 'pino';
import { Connection, type ConnectionOptions } from './connection.js';
import type { PortalAddress } from './target.js';

/** A TCP listener; every accepted socket becomes a Connection handed to `onConnection`. */
export class Portal {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Waiting for the last connection to close (close()). */
  private drained: (() => void)[] = [];

  constructor(
    readonly address: PortalAddress,
    private readonly log: Logger,
    private readonly connOptions: ConnectionOptions,
    private readonly onConnection: (conn: Connection) => void,
  ) {
    // Paused until the Connection has taken it over (it reads into buffers of its own: owned-reads.ts).
    this.server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  /** Resolves with the port actually bound (useful with port 0 in tests). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.address.port, this.address.host, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : this.address.port);
      });
    });
  }

  /** Sockets accepted and still open. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  get boundPort(): number {
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : this.address.port;
  }

  /** Every accepted socket becomes a Connection; admission (limits, eviction) is the server's. */
  private accept(accepted: net.Socket): void {
    const conn = new Connection(accepted, this.log.child({ conn: `${accepted.remoteAddress}:${accepted.remotePort}` }), this.connOptions);
    const socket = conn.socket;
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) for (const resolve of this.drained.splice(0)) resolve();
    });
    this.onConnection(conn);
  }

  /**
   * Stop accepting; resolves once the listener is closed and every connection is gone (they stay
   * until their sessions end). The server itself does not count them: each left it when its
   * Connection took over its handle.
   */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.sockets.size > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  /** Drop whatever is still connected (logins in progress, stragglers). */
  destroyConnections(): void {
    for (const s of this.sockets) s.destroy();
  }
}
