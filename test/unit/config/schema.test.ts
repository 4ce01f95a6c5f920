import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, validateConfig } from '../../../src/config/load.js';
import { defaultLunSerial } from '../../../src/config/schema.js';

const IQN = 'iqn.2026-11.io.scatter:t1';

/** A one-target config with the given LUN lines (YAML, indented under `luns:`). */
function withLuns(...luns: string[]): string {
  return `targets:\n  - iqn: ${IQN}\n    luns:\n${luns.map((l) => `      - ${l}`).join('\n')}\n`;
}

/** The ConfigError thrown for `text`, or a test failure. */
function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('derives the per-session and per-connection shares from smaller totals, and refuses shares above them', () => {
    const small = parseConfig('iscsi: { maxBufferedWriteBytes: 1MiB, maxBufferedReadBytes: 1MiB }', 's');
    expect(small.iscsi.maxBufferedWriteBytesPerSession).toBe(262_144);
    expect(small.iscsi.maxQueuedBytesPerConnection).toBe(1_048_576);
    expect(errorOf('iscsi: { maxBufferedWriteBytes: 1MiB, maxBufferedWriteBytesPerSession: 2MiB }').message).toContain(
      'iscsi.maxBufferedWriteBytesPerSession: must not exceed maxBufferedWriteBytes (1048576)',
    );
    expect(errorOf('iscsi: { maxPreLoginConnections: 10, maxPreLoginPerAddress: 11 }').message).toContain(
      'iscsi.maxPreLoginPerAddress: must not exceed maxPreLoginConnections (10)',
    );
    expect(errorOf('iscsi: { pduTimeout: 0 }').message).toContain('iscsi.pduTimeout: must be a number of seconds');
  });

  it('an empty file is a valid config with every default', () => {
    const config = parseConfig('', 'empty.yaml');
    expect(config).toEqual({
      logLevel: 'info',
      stateDir: resolve(process.cwd(), 'data/state'),
      iscsi: {
        portals: [{ host: '127.0.0.1', port: 3260 }],
        nopInInterval: 15,
        nopInTimeout: 15,
        maxRecvDataSegmentLength: 262144,
        maxBurstLength: 1048576,
        firstBurstLength: 262144,
        maxOutstandingR2T: 8,
        immediateData: true,
        initialR2T: false,
        headerDigest: ['CRC32C', 'None'],
        dataDigest: ['CRC32C', 'None'],
        maxCmdWindow: 128,
        maxBufferedWriteBytes: 268_435_456,
        maxConnections: 1024,
        maxPreLoginConnections: 64,
        maxPreLoginPerAddress: 8,
        firstPduTimeout: 5,
        loginTimeout: 15,
        pduTimeout: 15,
        sendStallTimeout: 30,
        dataOutTimeout: 30,
        maxImmediateCommands: 16,
        maxBufferedWriteBytesPerSession: 67_108_864,
        maxBufferedReadBytes: 268_435_456,
        maxQueuedBytesPerConnection: 16_777_216,
        authThrottle: { failureDelayMs: 1000, maxFailureDelayMs: 30_000, lockoutAfterFailures: 10, lockoutMs: 300_000 },
      },
      memory: { pageSize: 65536, poolPages: 512, poolWaitMs: 2000 },
      admin: { enabled: true, host: '127.0.0.1', port: 9470 },
      backstores: [],
      targets: [],
      discoveryAuth: { method: 'none' },
    });
  });

  it('fills LUN, backstore and auth defaults', () => {
    const config = parseConfig(withLuns('{ lun: 3, backstore: { type: file, path: /tmp/x.img, size: 1M } }'), 't');
    const target = config.targets[0];
    expect(target?.auth).toEqual({ method: 'none' });
    expect(target?.luns[0]).toEqual({
      lun: 3,
      backstore: { type: 'file', path: '/tmp/x.img', size: 2 ** 20, blockSize: 512, writeCache: true, direct: false, thin: false, create: 'once' },
      readOnly: false,
      removable: false,
      serial: defaultLunSerial(IQN, 3),
      sanitizeRate: 0,
    });
  });

  it('default objects are not shared between parses', () => {
    const a = parseConfig('', 'a');
    a.iscsi.portals.push({ host: '::', port: 1 });
    a.iscsi.headerDigest.pop();
    const b = parseConfig('', 'b');
    expect(b.iscsi.portals).toHaveLength(1);
    expect(b.iscsi.headerDigest).toEqual(['CRC32C', 'None']);
  });
});

describe('sizes and backstores', () => {
  it('accepts sizes with units wherever a byte count goes', () => {
    const config = parseConfig(
      'iscsi: { maxRecvDataSegmentLength: 8KiB, maxBurstLength: 1M, firstBurstLength: 64K }\n' +
        'memory: { pageSize: 64KiB }\n' +
        withLuns('{ lun: 0, backstore: { type: file, path: /a, size: 2G, blockSize: 4096 } }'),
      't',
    );
    expect(config.iscsi.maxRecvDataSegmentLength).toBe(8192);
    expect(config.iscsi.maxBurstLength).toBe(2 ** 20);
    expect(config.iscsi.firstBurstLength).toBe(65536);
    expect(config.memory.pageSize).toBe(65536);
    expect(config.targets[0]?.luns[0]?.backstore).toMatchObject({ size: 2 ** 31, blockSize: 4096 });
  });

  it('takes a LUN sanitizeRate in bytes per second, with units, and refuses a negative one', () => {
    const config = parseConfig(withLuns('{ lun: 0, backstore: { type: null, size: 1G }, sanitizeRate: 10MiB }'), 't');
    expect(config.targets[0]?.luns[0]?.sanitizeRate).toBe(10 * 2 ** 20);
    expect(errorOf(withLuns('{ lun: 0, backstore: { type: null, size: 1G }, sanitizeRate: -1 }')).message).toMatch(
      /targets\[0\]\.luns\[0\]\.sanitizeRate: /,
    );
  });

  it('names the field when a size is not a multiple of blockSize', () => {
    const err = errorOf(
      withLuns(
        '{ lun: 0, backstore: { type: null, size: 1G } }',
        '{ lun: 1, backstore: { type: file, path: /a, size: 1000, blockSize: 512 } }',
        '{ lun: 2, backstore: { type: null, size: 6K, blockSize: 4096 } }',
      ),
    );
    expect(err.message).toBe(
      'test.yaml: targets[0].luns[1].backstore.size: must be a multiple of blockSize (512)\n' +
        'test.yaml: targets[0].luns[2].backstore.size: must be a multiple of blockSize (4096)',
    );
    expect(err.issues.map((i) => i.path)).toEqual(['targets[0].luns[1].backstore.size', 'targets[0].luns[2].backstore.size']);
  });

  it.each([
    ['size: 0', 'targets[0].luns[0].backstore.size: must be greater than 0'],
    ['size: 1GB', 'targets[0].luns[0].backstore.size: ambiguous unit GB'],
    ['size: true', 'targets[0].luns[0].backstore.size: must be a number of bytes'],
    ['size: 1G, blockSize: 1024', 'targets[0].luns[0].backstore.blockSize: must be 512 or 4096'],
  ])('rejects %s', (fields, message) => {
    expect(errorOf(withLuns(`{ lun: 0, backstore: { type: null, ${fields} } }`)).message).toContain(message);
  });

  it('reads an unquoted `type: null` (YAML null) as the null backstore', () => {
    for (const type of ['null', "'null'"]) {
      const config = parseConfig(withLuns(`{ lun: 0, backstore: { type: ${type}, size: 1M } }`), 't');
      expect(config.targets[0]?.luns[0]?.backstore).toEqual({ type: 'null', size: 2 ** 20, blockSize: 512 });
    }
  });

  it('resolves relative backstore paths against the working directory', () => {
    const config = parseConfig(
      withLuns(
        '{ lun: 0, backstore: { type: file, path: ./data/lun0.img, size: 1M } }',
        '{ lun: 1, backstore: { type: block, path: /dev/loop0 } }',
      ),
      't',
    );
    expect(config.targets[0]?.luns[0]?.backstore).toMatchObject({ path: resolve(process.cwd(), 'data/lun0.img') });
    expect(config.targets[0]?.luns[1]?.backstore).toEqual({ type: 'block', path: '/dev/loop0', writeCache: true });
  });

  it('rejects an unknown backstore type and unknown keys', () => {
    const err = errorOf(
      withLuns('{ lun: 0, backstore: { type: tape, size: 1M } }', '{ lun: 1, backstore: { type: null, size: 1M, sise: 2 } }'),
    );
    expect(err.message).toContain("test.yaml: targets[0].luns[0].backstore.type: Invalid discriminator value. Expected 'file' | 'null' | 'block'");
    expect(err.message).toContain('test.yaml: targets[0].luns[1].backstore.sise: unknown key');
  });
});

describe('targets and LUNs', () => {
  it('rejects duplicate target names and LUN numbers, naming the field', () => {
    const text =
      `targets:\n  - iqn: ${IQN}\n    luns:\n` +
      '      - { lun: 0, backstore: { type: null, size: 1M } }\n' +
      '      - { lun: 0, backstore: { type: null, size: 1M } }\n' +
      `  - iqn: ${IQN}\n`;
    const err = errorOf(text);
    expect(err.issues).toEqual([
      { path: 'targets[0].luns[1].lun', message: 'duplicate LUN 0' },
      { path: 'targets[1].iqn', message: `duplicate target ${IQN}` },
    ]);
  });

  it('validates target names', () => {
    expect(errorOf('targets: [ { iqn: Iqn.2026-11.io.scatter } ]').message).toContain('targets[0].iqn: must be lowercase');
    expect(errorOf('targets: [ { iqn: scatter } ]').message).toContain('targets[0].iqn: must start with iqn., eui. or naa.');
    expect(errorOf('targets: [ { iqn: iqn.2026-11 } ]').message).toContain('targets[0].iqn: must look like iqn.yyyy-mm');
    expect(parseConfig('targets: [ { iqn: eui.0123456789abcdef, alias: disk one } ]', 't').targets[0]?.alias).toBe('disk one');
  });

  it('keeps an explicit serial and derives a stable one otherwise', () => {
    const config = parseConfig(
      withLuns('{ lun: 0, serial: SN-0001, backstore: { type: null, size: 1M } }', '{ lun: 1, backstore: { type: null, size: 1M } }'),
      't',
    );
    const [first, second] = config.targets[0]?.luns ?? [];
    expect(first?.serial).toBe('SN-0001');
    expect(second?.serial).toMatch(/^[0-9a-f]{32}$/);
    expect(second?.serial).toBe(defaultLunSerial(IQN, 1));
    expect(defaultLunSerial(IQN, 1)).not.toBe(defaultLunSerial(IQN, 2));
    expect(errorOf(withLuns(`{ lun: 0, serial: ${'x'.repeat(33)}, backstore: { type: null, size: 1M } }`)).message).toContain(
      'targets[0].luns[0].serial: must be at most 32 characters',
    );
  });

  it('rejects LUN numbers out of range', () => {
    expect(errorOf(withLuns('{ lun: 16384, backstore: { type: null, size: 1M } }')).message).toContain(
      'targets[0].luns[0].lun: must be a whole number from 0 to 16383',
    );
  });
});

describe('iSCSI settings', () => {
  it('firstBurstLength must not exceed maxBurstLength', () => {
    expect(errorOf('iscsi: { maxBurstLength: 64K, firstBurstLength: 128K }').message).toBe(
      'test.yaml: iscsi.firstBurstLength: must not exceed maxBurstLength (65536)',
    );
  });

  it.each([
    ['iscsi: { maxRecvDataSegmentLength: 100 }', 'iscsi.maxRecvDataSegmentLength: must be from 512 to 16777215'],
    ['iscsi: { maxBurstLength: 16M }', 'iscsi.maxBurstLength: must be from 512 to 16777215'],
    ['iscsi: { maxOutstandingR2T: 0 }', 'iscsi.maxOutstandingR2T: must be a whole number from 1 to 65535'],
    ['iscsi: { nopInInterval: 1.5 }', 'iscsi.nopInInterval: must be a whole number from 0 to 3600'],
    ['iscsi: { immediateData: yes }', 'iscsi.immediateData: Invalid input: expected boolean'],
    ['iscsi: { headerDigest: [CRC32C, MD5] }', 'iscsi.headerDigest[1]: must be CRC32C or None'],
    ['iscsi: { dataDigest: [None, None] }', 'iscsi.dataDigest[1]: duplicate digest None'],
    ['iscsi: { dataDigest: [] }', 'iscsi.dataDigest: must list at least one digest'],
    ['iscsi: { portals: [] }', 'iscsi.portals: must list at least one portal'],
    ['iscsi: { portals: [ { host: localhost } ] }', 'iscsi.portals[0].host: must be an IPv4 or IPv6 address'],
    ['iscsi: { portals: [ { host: 0.0.0.0, port: 65536 } ] }', 'iscsi.portals[0].port: must be a whole number from 1 to 65535'],
    ['iscsi: { maxCmdWindow: 0 }', 'iscsi.maxCmdWindow: must be a whole number from 1 to 65535'],
    ['memory: { pageSize: 48K }', 'memory.pageSize: must be a power of two'],
    ['memory: { pageSize: 2048 }', 'memory.pageSize: must be from 4KiB to 16MiB'],
    ['memory: { poolPages: 0 }', 'memory.poolPages: must be a whole number from 1 to 1048576'],
    ['logLevel: loud', 'logLevel: Invalid option'],
    ['iscsi: { bogus: 1 }', 'iscsi.bogus: unknown key'],
  ])('%s', (text, message) => {
    expect(errorOf(text).message).toContain(`test.yaml: ${message}`);
  });

  it('rejects duplicate portals, IPv6 included', () => {
    const err = errorOf('iscsi: { portals: [ { host: "::1" }, { host: 127.0.0.1 }, { host: "::1", port: 3260 }, { port: 3260 } ] }');
    expect(err.issues).toEqual([
      { path: 'iscsi.portals[2]', message: 'duplicate portal ::1:3260' },
      { path: 'iscsi.portals[3]', message: 'duplicate portal 127.0.0.1:3260' },
    ]);
  });
});

describe('authentication', () => {
  const chap = (fields: string) => `targets: [ { iqn: ${IQN}, auth: { method: chap, ${fields} } } ]`;

  it('accepts CHAP with defaults and with mutual credentials', () => {
    const one = parseConfig(chap('user: alice, secret: twelve-bytes'), 't').targets[0]?.auth;
    expect(one).toEqual({ method: 'chap', user: 'alice', secret: 'twelve-bytes', algorithms: [7, 8, 6, 5] });
    const both = parseConfig(
      `discoveryAuth: { method: chap, user: d, secret: discovery-secret, mutualUser: t, mutualSecret: target-secret-1, algorithms: [5] }`,
      't',
    ).discoveryAuth;
    expect(both).toEqual({
      method: 'chap',
      user: 'd',
      secret: 'discovery-secret',
      mutualUser: 't',
      mutualSecret: 'target-secret-1',
      algorithms: [5],
    });
  });

  it.each([
    ['user: alice, secret: short', 'targets[0].auth.secret: must be at least 12 bytes'],
    [`user: alice, secret: ${'s'.repeat(256)}`, 'targets[0].auth.secret: must be at most 255 bytes'],
    ['user: "", secret: twelve-bytes', 'targets[0].auth.user: must not be empty'],
    ['secret: twelve-bytes', 'targets[0].auth.user: must be a string'],
    ['user: a, secret: twelve-bytes, mutualUser: t', 'targets[0].auth.mutualSecret: is required when mutualUser is set'],
    ['user: a, secret: twelve-bytes, mutualSecret: other-secret', 'targets[0].auth.mutualUser: is required when mutualSecret is set'],
    ['user: a, secret: twelve-bytes, mutualUser: t, mutualSecret: twelve-bytes', 'targets[0].auth.mutualSecret: must differ from secret'],
    ['user: a, secret: twelve-bytes, algorithms: [4]', 'targets[0].auth.algorithms[0]: must be 5 (MD5), 6 (SHA-1), 7 (SHA-256) or 8 (SHA3-256)'],
    ['user: a, secret: twelve-bytes, algorithms: [5, 5]', 'targets[0].auth.algorithms[1]: duplicate algorithm 5'],
    ['user: a, secret: twelve-bytes, algorithms: []', 'targets[0].auth.algorithms: must list at least one algorithm'],
    ['user: a, secret: twelve-bytes, password: x', 'targets[0].auth.password: unknown key'],
  ])('%s', (fields, message) => {
    expect(errorOf(chap(fields)).message).toContain(`test.yaml: ${message}`);
  });

  it('rejects an unknown method', () => {
    expect(errorOf('discoveryAuth: { method: kerberos }').message).toContain('test.yaml: discoveryAuth.method: Invalid discriminator value');
  });

  it('counts secret length in bytes, not characters', () => {
    // Six two-byte characters: twelve bytes.
    expect(parseConfig(chap('user: a, secret: "éééééé"'), 't').targets[0]?.auth).toMatchObject({ secret: 'éééééé' });
  });
});

describe('error reporting', () => {
  it('reports every issue, one line each, prefixed by the source', () => {
    const err = errorOf('logLevel: loud\nmemory: { poolPages: 0 }\n');
    expect(err.issues).toHaveLength(2);
    expect(err.message.split('\n')).toHaveLength(2);
    expect(err.message.split('\n').every((line) => line.startsWith('test.yaml: '))).toBe(true);
    expect(err.name).toBe('ConfigError');
  });

  it('reports YAML syntax errors with line and column', () => {
    const err = errorOf('logLevel: info\niscsi: { portals: [ }\n');
    expect(err.message).toMatch(/^test\.yaml:2:\d+: invalid YAML: /);
    expect(err.issues[0]?.line).toBe(2);
    expect(errorOf('a: 1\na: 2\n').message).toMatch(/^test\.yaml:2:1: invalid YAML: Map keys must be unique/);
  });

  it('rejects a document that is not a mapping', () => {
    expect(errorOf('- 1\n- 2\n').message).toBe('test.yaml: (root): Invalid input: expected object, received array');
  });

  it('validateConfig checks plain objects too', () => {
    expect(() => validateConfig({ logLevel: 'loud' }, 'api')).toThrow(/^api: logLevel: /);
    expect(validateConfig({}, 'api').targets).toEqual([]);
  });
});
