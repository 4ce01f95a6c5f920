/**
 * Every generator, by the PDU type it is about, with how often it runs relative to the others.
 * A run cycles through a seeded shuffle of this schedule, so even a short run covers every
 * generator, and case i is always the same generator for the same seed.
 */
import type { Rng } from '../rng.js';
import { dataOutGenerators } from './data-out.js';
import { loginGenerators } from './login.js';
import { logoutGenerators } from './logout.js';
import { mutationGenerators } from './mutation.js';
import { nopOutGenerators } from './nop-out.js';
import { opcodeGenerators } from './opcodes.js';
import { resourceGenerators } from './resource.js';
import { scsiCommandGenerators } from './scsi-command.js';
import { textGenerators } from './text.js';
import { tmfGenerators } from './tmf.js';
import type { Generator } from './types.js';

const WEIGHTS: Record<string, number> = {
  'scsi-honest-mix': 6,
  'scsi-flags': 6,
  'data-out-r2t-mistakes': 4,
  'data-out-early-f': 2,
  'byte-mutation': 5,
  'login-flags': 3,
  'login-text': 3,
  'login-chap': 3,
  'login-continued-first': 3,
  'resource-read-burst': 1,
  'resource-write-hold': 1,
  'resource-immediate-flood': 1,
};

export const GENERATORS: readonly Generator[] = [
  ...loginGenerators,
  ...scsiCommandGenerators,
  ...dataOutGenerators,
  ...nopOutGenerators,
  ...tmfGenerators,
  ...textGenerators,
  ...logoutGenerators,
  ...opcodeGenerators,
  ...mutationGenerators,
  ...resourceGenerators,
];

/** The order generators run in for a seed: each `weight` times per round, shuffled. */
export function schedule(r: Rng, only?: readonly string[], skip?: readonly string[]): Generator[] {
  const pool = GENERATORS.filter((g) => (!only || only.includes(g.name)) && !skip?.includes(g.name));
  if (pool.length === 0) throw new Error(`no generator matches ${only?.join(',')}; known: ${GENERATORS.map((g) => g.name).join(', ')}`);
  const round = pool.flatMap((g) => Array.from({ length: only ? 1 : (WEIGHTS[g.name] ?? 2) }, () => g));
  for (let i = round.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [round[i], round[j]] = [round[j]!, round[i]!];
  }
  return round;
}
