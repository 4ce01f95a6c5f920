import { describe, expect, it } from 'vitest';
import { iscsiNameProblem } from '../../../src/config/iscsi-name.js';

describe('iscsiNameProblem', () => {
  it.each([
    'iqn.2026-11.io.scatter:default',
    'iqn.2001-04.com.example',
    'iqn.2001-04.com.example:storage:diskarrays-sn-a8675309',
    'iqn.2001-04.com.example:storage.tape1.sys1.xyz',
    'iqn.1992-01.com.example:a-b.c',
    'eui.02004567a425678d',
    'naa.52004567ba64678d',
    'naa.62004567ba64678d0123456789abcdef',
  ])('accepts %s', (name) => {
    expect(iscsiNameProblem(name)).toBeNull();
  });

  it.each([
    ['', /empty/],
    ['IQN.2001-04.com.example', /lowercase.*"iqn\.2001-04\.com\.example"/],
    ['eui.02004567A425678D', /lowercase/],
    ['iqn.2001-13.com.example', /iqn\.yyyy-mm/],
    ['iqn.01-04.com.example', /iqn\.yyyy-mm/],
    ['iqn.2001-04', /iqn\.yyyy-mm/],
    ['iqn.2001-04.com..example', /iqn\.yyyy-mm/],
    ['iqn.2001-04.-com.example', /iqn\.yyyy-mm/],
    ['iqn.2001-04.com.example:', /iqn\.yyyy-mm/],
    ['iqn.2001-04.com.example:a b', /iqn\.yyyy-mm/],
    ['iqn.2001-04.com_x.example', /iqn\.yyyy-mm/],
    ['eui.02004567a425678', /16 hex digits/],
    ['eui.02004567a425678g', /16 hex digits/],
    ['naa.52004567ba64678d00', /16 or 32 hex digits/],
    ['scatter-target', /must start with iqn\., eui\. or naa\./],
    [`iqn.2001-04.com.example:${'a'.repeat(210)}`, /at most 223 bytes/],
  ])('rejects %j', (name, message) => {
    expect(iscsiNameProblem(name)).toMatch(message);
  });
});
