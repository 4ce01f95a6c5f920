import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { adminTokenPath } from '../../../src/config/schema.js';

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('admin listener config', () => {
  it('defaults to enabled on 127.0.0.1:9470 (loopback)', () => {
    expect(parseConfig('', 't').admin).toEqual({ enabled: true, host: '127.0.0.1', port: 9470 });
  });

  it('takes host, port and enabled', () => {
    expect(parseConfig('admin: { host: 0.0.0.0, port: 9100 }', 't').admin).toEqual({ enabled: true, host: '0.0.0.0', port: 9100 });
    expect(parseConfig('admin: { host: "::1" }', 't').admin).toEqual({ enabled: true, host: '::1', port: 9470 });
    expect(parseConfig('admin: { enabled: false }', 't').admin).toEqual({ enabled: false, host: '127.0.0.1', port: 9470 });
  });

  it('keeps the API token in <stateDir>/admin-token unless admin.tokenFile names another file', () => {
    expect(adminTokenPath(parseConfig('stateDir: /var/lib/scatter', 't'))).toBe('/var/lib/scatter/admin-token');
    expect(adminTokenPath(parseConfig('admin: { tokenFile: secrets/token }', 't'))).toBe(resolve('secrets/token'));
  });

  it.each([
    ['admin: false', 'admin: must be an object like { host: 127.0.0.1, port: 9470 } (enabled: false turns it off)'],
    ['admin: { enabled: no }', 'admin.enabled: Invalid input: expected boolean'],
    ['admin: { host: localhost }', 'admin.host: must be an IPv4 or IPv6 address'],
    ['admin: { port: 0 }', 'admin.port: must be a whole number from 1 to 65535'],
    ['admin: { port: 70000 }', 'admin.port: must be a whole number from 1 to 65535'],
    ['admin: { path: /metrics }', 'admin.path: unknown key'],
  ])('%s', (text, message) => {
    expect(errorOf(text).message).toContain(`test.yaml: ${message}`);
  });

  it('refuses an admin port that an iSCSI portal already binds', () => {
    expect(errorOf('iscsi: { portals: [ { port: 9470 } ] }').issues).toEqual([
      { path: 'admin.port', message: '9470 is already an iSCSI portal port' },
    ]);
    // A wildcard on either side covers the other address.
    expect(errorOf('iscsi: { portals: [ { port: 3260 } ] }\nadmin: { host: 0.0.0.0, port: 3260 }').issues).toEqual([
      { path: 'admin.port', message: '3260 is already an iSCSI portal port' },
    ]);
    // Different addresses, or the listener off: no conflict.
    expect(parseConfig('iscsi: { portals: [ { port: 9470 } ] }\nadmin: { host: "::1" }', 't').admin.port).toBe(9470);
    expect(parseConfig('iscsi: { portals: [ { port: 9470 } ] }\nadmin: { enabled: false }', 't').admin.enabled).toBe(false);
  });
});
