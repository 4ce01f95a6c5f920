import { createServer, type Server } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { startScatter } from '../../src/server/start.js';

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

function portOf(s: Server): number {
  return (s.address() as { port: number }).port;
}

function close(s: Server): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

describe('admin listener start-up', () => {
  it('a taken admin port stops start-up with a message naming it, and frees the iSCSI portal again', async () => {
    const blocker = await listen();
    const probe = await listen();
    const portalPort = portOf(probe);
    await close(probe);
    try {
      const config = validateConfig(
        { logLevel: 'silent', iscsi: { portals: [{ host: '127.0.0.1', port: portalPort }] }, admin: { port: portOf(blocker) } },
        'test',
      );
      await expect(startScatter(config, pino({ level: 'silent' }))).rejects.toThrow(
        new RegExp(`^admin listener 127\\.0\\.0\\.1:${portOf(blocker)}: .*EADDRINUSE`),
      );
      // The portal that had been opened before the admin listener failed is closed again.
      await close(await listen(portalPort));
    } finally {
      await close(blocker);
    }
  });
});
