import { describe, expect, it } from 'vitest';
import { CmdSnWindow } from '../../../src/iscsi/cmdsn-window.js';

function submitAll(w: CmdSnWindow, from: number, n: number, delivered: number[]): boolean[] {
  const accepted: boolean[] = [];
  for (let sn = from; sn < from + n; sn++) accepted.push(w.submit(sn >>> 0, false, () => delivered.push(sn >>> 0)));
  return accepted;
}

describe('CmdSnWindow', () => {
  it('delivers in CmdSN order and drops what lies outside [ExpCmdSN, MaxCmdSN]', () => {
    const w = new CmdSnWindow(10, 4);
    expect(w.maxCmdSN).toBe(13);
    const got: number[] = [];
    expect(w.submit(12, false, () => got.push(12))).toBe(true);
    expect(w.submit(11, false, () => got.push(11))).toBe(true);
    expect(got).toEqual([]);
    expect(w.submit(10, false, () => got.push(10))).toBe(true);
    expect(got).toEqual([10, 11, 12]);
    expect(w.submit(9, false, () => got.push(9))).toBe(false); // already past
    expect(w.submit(17, false, () => got.push(17))).toBe(false); // beyond MaxCmdSN 16
    expect(w.maxCmdSN).toBe(16);
  });

  it('narrowing never lowers MaxCmdSN: commands sent up to an advertised MaxCmdSN are still taken', () => {
    const w = new CmdSnWindow(1, 8);
    expect(w.maxCmdSN).toBe(8); // the initiator may now send 1..8
    w.resize(1); // TASK SET FULL
    expect(w.maxCmdSN).toBe(8);
    const got: number[] = [];
    expect(submitAll(w, 1, 8, got)).toEqual(new Array(8).fill(true));
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // ExpCmdSN (9) caught up: the narrowed window of one applies from here.
    expect(w.maxCmdSN).toBe(9);
    expect(w.submit(10, false, () => got.push(10))).toBe(false);
    w.resize(3);
    expect(w.maxCmdSN).toBe(11);
  });

  it('holds MaxCmdSN while ExpCmdSN advances inside a narrowed window', () => {
    const w = new CmdSnWindow(100, 16);
    expect(w.maxCmdSN).toBe(115);
    w.resize(4);
    const got: number[] = [];
    submitAll(w, 100, 10, got);
    expect(got.length).toBe(10);
    expect(w.maxCmdSN).toBe(115); // 110 + 4 - 1 = 113 would go backwards
    submitAll(w, 110, 6, got);
    expect(w.maxCmdSN).toBe(119); // 116 + 4 - 1
  });

  it('works across the 32-bit wrap', () => {
    const w = new CmdSnWindow(0xfffffffe, 4);
    expect(w.maxCmdSN).toBe(1);
    w.resize(1);
    const got: number[] = [];
    expect(submitAll(w, 0xfffffffe, 4, got)).toEqual([true, true, true, true]);
    expect(got).toEqual([0xfffffffe, 0xffffffff, 0, 1]);
    expect(w.expCmdSN).toBe(2);
    expect(w.maxCmdSN).toBe(2);
  });

  it('immediate commands run at once and do not move the window', () => {
    const w = new CmdSnWindow(5, 2);
    let ran = false;
    expect(w.submit(5, true, () => (ran = true))).toBe(true);
    expect(ran).toBe(true);
    expect(w.expCmdSN).toBe(5);
  });
});
