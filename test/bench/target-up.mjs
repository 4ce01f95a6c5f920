// Shared by the bench scripts: is a local port accepting connections, and waiting for a target to listen.
import net from 'node:net';

/** True when 127.0.0.1:`port` accepts a connection right now. */
export function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves once `port` accepts a connection (the target is up), failing if `child` exits first or after 30 s. */
export async function listening(port, child) {
  for (const end = Date.now() + 30_000; !(await portOpen(port)); ) {
    if (child.exitCode !== null) throw new Error(`the bench target exited with ${child.exitCode}`);
    if (Date.now() > end) throw new Error(`the bench target does not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
