/** Per-target ACLs in the config: defaults, conflicts and the messages that name the field. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { targetAccessFromConfig } from '../../../src/runtime/target-access.js';

const IQN = 'iqn.2026-11.io.scatter:t1';
const HOST_A = 'iqn.2026-11.io.example:host-a';
const HOST_B = 'iqn.2026-11.io.example:host-b';

/** A one-target config with null LUNs 0 and 3 and the given extra target lines (YAML). */
function target(extra: string): string {
  return [
    'targets:',
    `  - iqn: ${IQN}`,
    '    luns:',
    '      - { lun: 0, backstore: { type: null, size: 1MiB } }',
    '      - { lun: 3, backstore: { type: null, size: 1MiB } }',
    ...extra.split('\n').map((l) => `    ${l}`),
    '',
  ].join('\n');
}

function errorOf(text: string): string {
  try {
    parseConfig(text, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('target ACLs', () => {
  it('a target without acls lets any initiator in; with acls allowAnyInitiator defaults to false', () => {
    const open = parseConfig(target(''), 't').targets[0]!;
    expect(open.allowAnyInitiator).toBe(true);
    expect(open.acls).toEqual([]);
    const closed = parseConfig(target(`acls: [ { initiator: ${HOST_A} } ]`), 't').targets[0]!;
    expect(closed.allowAnyInitiator).toBe(false);
    expect(closed.acls).toEqual([{ initiator: HOST_A }]);
    // Explicitly closed with no ACL: nobody may log in (valid: a locked target).
    expect(parseConfig(target('allowAnyInitiator: false'), 't').targets[0]!.allowAnyInitiator).toBe(false);
  });

  it('fills `as` with the target LUN and readOnly with false', () => {
    const t = parseConfig(target(`acls: [ { initiator: ${HOST_A}, luns: [ { lun: 3 }, { lun: 0, as: 7, readOnly: true } ] } ]`), 't')
      .targets[0]!;
    expect(t.acls[0]!.luns).toEqual([
      { lun: 3, as: 3, readOnly: false },
      { lun: 0, as: 7, readOnly: true },
    ]);
  });

  it('allowAnyInitiator: true with acls is refused at allowAnyInitiator', () => {
    expect(errorOf(target(`allowAnyInitiator: true\nacls: [ { initiator: ${HOST_A} } ]`))).toContain(
      'targets[0].allowAnyInitiator: must not be true when acls are listed',
    );
  });

  it('refuses a second ACL for the same initiator, an invalid or uppercase name, and unknown keys', () => {
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A} }, { initiator: ${HOST_B} }, { initiator: ${HOST_A} } ]`))).toContain(
      `targets[0].acls[2].initiator: duplicate ACL for initiator ${HOST_A}`,
    );
    expect(errorOf(target('acls: [ { initiator: host-a } ]'))).toContain('targets[0].acls[0].initiator: must start with iqn.');
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A.toUpperCase()} } ]`))).toContain('targets[0].acls[0].initiator: must be lowercase');
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A}, lun: 0 } ]`))).toContain('targets[0].acls[0]');
  });

  it('refuses a mapping of a LUN the target does not have, naming the LUNs it has', () => {
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A}, luns: [ { lun: 0 }, { lun: 5 } ] } ]`))).toContain(
      'targets[0].acls[0].luns[1].lun: LUN 5 is not a LUN of this target (its LUNs: 0, 3)',
    );
  });

  it('refuses two mappings the initiator would see under one number, and the same LUN mapped twice', () => {
    // LUN 3 as 0 collides with LUN 0 under its own number.
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A}, luns: [ { lun: 0 }, { lun: 3, as: 0 } ] } ]`))).toContain(
      'targets[0].acls[0].luns[1].as: the initiator would see two LUNs as 0',
    );
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A}, luns: [ { lun: 3, as: 1 }, { lun: 3, as: 2 } ] } ]`))).toContain(
      'targets[0].acls[0].luns[1].lun: LUN 3 is mapped twice in this ACL',
    );
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A}, luns: [ { lun: 0, as: 16384 } ] } ]`))).toContain(
      'targets[0].acls[0].luns[0].as: must be a whole number from 0 to 16383',
    );
  });

  it('takes the same auth as the target per ACL, with its checks', () => {
    expect(errorOf(target(`acls: [ { initiator: ${HOST_A}, auth: { method: chap, user: a, secret: short } } ]`))).toContain(
      'targets[0].acls[0].auth.secret: must be at least 12 bytes',
    );
    const t = parseConfig(
      target(
        `auth: { method: chap, user: t, secret: target-secret-1 }\nacls:\n  - { initiator: ${HOST_A}, auth: { method: chap, user: a, secret: acl-secret-123, mutualUser: tgt, mutualSecret: tgt-secret-456 } }\n  - { initiator: ${HOST_B}, auth: { method: none } }\n  - { initiator: iqn.2026-11.io.example:host-c }`,
      ),
      't',
    ).targets[0]!;
    // The access the login reads: the ACL's CHAP, none, or the target's (undefined = inherit).
    const access = targetAccessFromConfig(t);
    expect(access.allowAnyInitiator).toBe(false);
    expect(access.acls[0]!.chap).toMatchObject({ initiator: { user: 'a', secret: 'acl-secret-123' }, mutual: { user: 'tgt' } });
    expect(access.acls[1]!.chap).toBeNull();
    expect(access.acls[2]!.chap).toBeUndefined();
  });
});

describe('the shipped config/scatter.yaml', () => {
  const text = readFileSync(fileURLToPath(new URL('../../../config/scatter.yaml', import.meta.url)), 'utf8');

  it('lets any initiator in, explicitly', () => {
    expect(text).toMatch(/^ {4}allowAnyInitiator: true/m);
    const target = parseConfig(text, 'scatter.yaml').targets[0]!;
    expect(target.allowAnyInitiator).toBe(true);
    expect(target.acls).toEqual([]);
  });

  it('its commented ACL example is valid once uncommented (with allowAnyInitiator removed)', () => {
    const example = text
      .replace(/^ {4}allowAnyInitiator: true.*\n(?: {34}#.*\n)*/m, '')
      .replace(/^ {4}# acls:/m, '    acls:')
      .replace(/^ {4}# {3}( *)([-a-z])/gm, '      $1$2');
    const target = parseConfig(example, 'example').targets[0]!;
    expect(target.allowAnyInitiator).toBe(false);
    expect(target.acls).toHaveLength(1);
    expect(target.acls[0]).toMatchObject({ initiator: 'iqn.2026-11.com.example:host1', auth: { method: 'chap', user: 'host1' } });
    expect(target.acls[0]!.luns).toEqual([{ lun: 0, as: 0, readOnly: false }]);
  });
});
