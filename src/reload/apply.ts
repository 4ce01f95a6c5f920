import type { Logger } from 'pino';
import type { Config, LunConfig } from '../config/schema.js';
import type { LiveLuns } from '../runtime/live-luns.js';
import type { ReloadPlan, ReloadStep } from './plan.js';

/** What applying needs of the running server (LiveLuns). */
export type LunControl = Pick<LiveLuns, 'add' | 'remove' | 'resize' | 'reopen' | 'recover'>;

export interface ReloadOutcome {
  /** The config now in effect: the running one with every step that succeeded applied. */
  readonly config: Config;
  readonly applied: number;
  readonly failed: number;
}

/**
 * Carries out a plan step by step (a failed step is logged and the others still run), logs what
 * needs a restart or was refused, and returns the config now in effect, so that the next reload
 * compares against what really runs (and warns again about what is still pending).
 */
export async function applyReload(plan: ReloadPlan, running: Config, luns: LunControl, log: Logger): Promise<ReloadOutcome> {
  for (const change of plan.needsRestart) log.warn({ change }, 'config change needs a restart; left alone');
  for (const change of plan.refused) log.error({ change }, 'config change refused');

  const inEffect = new Map(running.targets.map((t) => [t.iqn, new Map(t.luns.map((l) => [l.lun, l]))]));
  let applied = 0;
  let failed = 0;
  for (const step of plan.steps) {
    try {
      await apply(step, luns, inEffect);
      applied++;
    } catch (err) {
      failed++;
      log.error({ err, step: describe(step) }, 'config reload step failed; that LUN is left as it was');
    }
  }
  const config: Config = {
    ...running,
    targets: running.targets.map((t) => {
      const current = inEffect.get(t.iqn);
      return current ? { ...t, luns: [...current.values()].sort((a, b) => a.lun - b.lun) } : t;
    }),
  };
  return { config, applied, failed };
}

async function apply(step: ReloadStep, luns: LunControl, inEffect: Map<string, Map<number, LunConfig>>): Promise<void> {
  switch (step.kind) {
    case 'remove':
      await luns.remove(step.iqn, step.lun);
      inEffect.get(step.iqn)?.delete(step.lun);
      return;
    case 'add':
      await luns.add(step.target, step.lun);
      inEffect.get(step.target.iqn)?.set(step.lun.lun, step.lun);
      return;
    case 'reopen':
      // In effect from now on even if it failed again: the LU is offline whatever its config says.
      inEffect.get(step.target.iqn)?.set(step.lun.lun, step.lun);
      await luns.reopen(step.target, step.lun);
      return;
    case 'recover':
      await luns.recover(step.iqn, step.lun);
      return;
    case 'resize': {
      await luns.resize(step.iqn, step.lun, step.size === undefined ? {} : { size: step.size });
      const target = inEffect.get(step.iqn);
      const was = target?.get(step.lun);
      if (target && was && step.size !== undefined && 'size' in was.backstore) {
        target.set(step.lun, { ...was, backstore: { ...was.backstore, size: step.size } });
      }
      return;
    }
  }
}

function describe(step: ReloadStep): string {
  switch (step.kind) {
    case 'remove':
      return `remove ${step.iqn} LUN ${step.lun}`;
    case 'add':
      return `add ${step.target.iqn} LUN ${step.lun.lun}`;
    case 'reopen':
      return `open ${step.target.iqn} LUN ${step.lun.lun} again`;
    case 'recover':
      return `acknowledge the failed write-back of ${step.iqn} LUN ${step.lun}`;
    case 'resize':
      return step.size === undefined
        ? `re-read the size of ${step.iqn} LUN ${step.lun}`
        : `grow ${step.iqn} LUN ${step.lun} to ${step.size} bytes`;
  }
}
