/**
 * Applies a ChangePlan to the running target, all or nothing: when a step fails, the steps
 * already applied are undone in reverse order and the failure is reported with the step that
 * failed. Two kinds of step cannot be undone and are placed so that they need not be: resizes
 * come last (a grown LU is never shrunk back), and opening an offline LU again or acknowledging
 * a failed write-back only ever improves an LU that serves nothing, so their failure is a warning.
 */
import type { Logger } from 'pino';
import type { AuthConfig, Config, LunConfig, PortalConfig, TargetConfig } from '../config/schema.js';
import { ScatterError } from '../shared/errors.js';
import { describeStep, type ChangePlan, type PlanStep } from './plan.js';

/** What applying needs of the running server (runtime/live-*.ts implement it). */
export interface LiveRuntime {
  readonly luns: {
    add(target: TargetConfig, lun: LunConfig): Promise<void>;
    remove(iqn: string, lun: number): Promise<void>;
    resize(iqn: string, lun: number, to: { size?: number }): Promise<unknown>;
    reopen(target: TargetConfig, lun: LunConfig): Promise<void>;
    recover(iqn: string, lun: number): Promise<void>;
  };
  readonly targets: {
    add(target: TargetConfig): Promise<void>;
    remove(iqn: string, graceMs: number): Promise<void>;
    update(target: TargetConfig, graceMs: number): Promise<void>;
  };
  readonly settings: {
    addPortal(portal: PortalConfig): Promise<unknown>;
    removePortal(portal: PortalConfig): Promise<void>;
    setNegotiation(iscsi: Config['iscsi']): void;
    setDiscoveryAuth(auth: AuthConfig): void;
  };
  /** How long initiators get to log out when their target goes away. */
  readonly logoutGraceMs: number;
}

/** A change that could not be applied; everything applied before it was undone. */
export class ApplyError extends ScatterError<'CONFIG_APPLY'> {
  constructor(
    /** The step that failed, in words (describeStep). */
    readonly step: string,
    readonly reason: string,
    /** Steps whose undo failed too (logged at error): the running target differs from both configs there. */
    readonly undoFailures: readonly string[],
    options?: ErrorOptions,
  ) {
    super('CONFIG_APPLY', `${step}: ${reason}`, options);
  }
}

export interface Applied {
  /** The steps done, in words. */
  readonly done: readonly string[];
  /** Best-effort steps that did not succeed (an LU still offline), in words. */
  readonly warnings: readonly string[];
  /** Undo what was done (when persisting the change fails afterwards). Never rejects. */
  rollback(): Promise<readonly string[]>;
}

type Undo = () => Promise<void>;

export async function applyPlan(plan: ChangePlan, rt: LiveRuntime, log: Logger): Promise<Applied> {
  const undos: { what: string; undo: Undo }[] = [];
  const done: string[] = [];
  const warnings: string[] = [];
  const rollback = async (): Promise<string[]> => {
    const failures: string[] = [];
    for (const { what, undo } of undos.reverse()) {
      try {
        await undo();
      } catch (err) {
        log.error({ err, step: what }, 'undoing a config change step failed');
        failures.push(`${what}: ${messageOf(err)}`);
      }
    }
    undos.length = 0;
    return failures;
  };
  for (const step of plan.steps) {
    const what = describeStep(step);
    try {
      const undo = await applyStep(step, rt);
      if (undo) undos.push({ what, undo });
      done.push(what);
    } catch (err) {
      if (step.kind === 'reopenLun' || step.kind === 'recoverLun') {
        log.error({ err, step: what }, 'config change: the LUN stays offline');
        warnings.push(`${what}: ${messageOf(err)}`);
        continue;
      }
      log.error({ err, step: what }, 'config change step failed; undoing what was applied');
      const undoFailures = await rollback();
      throw new ApplyError(what, messageOf(err), undoFailures, { cause: err });
    }
  }
  return { done, warnings, rollback };
}

/** Does one step; returns how to undo it (undefined: nothing to undo). */
async function applyStep(step: PlanStep, rt: LiveRuntime): Promise<Undo | undefined> {
  switch (step.kind) {
    case 'removePortal':
      await rt.settings.removePortal(step.portal);
      return async () => void (await rt.settings.addPortal(step.portal));
    case 'addPortal':
      await rt.settings.addPortal(step.portal);
      return () => rt.settings.removePortal(step.portal);
    case 'setDiscoveryAuth':
      rt.settings.setDiscoveryAuth(step.to);
      return async () => rt.settings.setDiscoveryAuth(step.from);
    case 'setNegotiation':
      rt.settings.setNegotiation(step.to);
      return async () => rt.settings.setNegotiation(step.from);
    case 'addTarget':
      await rt.targets.add(step.target);
      return () => rt.targets.remove(step.target.iqn, 0);
    case 'updateTarget':
      await rt.targets.update(step.to, rt.logoutGraceMs);
      return () => rt.targets.update(step.from, 0);
    case 'addLun':
      await rt.luns.add(step.target, step.lun);
      return () => rt.luns.remove(step.target.iqn, step.lun.lun);
    case 'replaceLun':
      await replaceLun(rt, step.target, step.from, step.to);
      return () => replaceLun(rt, step.target, step.to, step.from);
    case 'reopenLun':
      await rt.luns.reopen(step.target, step.lun);
      return undefined;
    case 'recoverLun':
      await rt.luns.recover(step.iqn, step.lun);
      return undefined;
    case 'removeLun':
      await rt.luns.remove(step.target.iqn, step.lun.lun);
      return () => rt.luns.add(step.target, step.lun);
    case 'removeTarget':
      await rt.targets.remove(step.target.iqn, rt.logoutGraceMs);
      return () => rt.targets.add(step.target);
    case 'resizeLun':
      await rt.luns.resize(step.iqn, step.lun, step.size === undefined ? {} : { size: step.size });
      return undefined;
  }
}

/** Takes the LU out and opens it from `to`; if that fails, puts `from` back before rejecting. */
async function replaceLun(rt: LiveRuntime, target: TargetConfig, from: LunConfig, to: LunConfig): Promise<void> {
  await rt.luns.remove(target.iqn, from.lun);
  try {
    await rt.luns.add(target, to);
  } catch (err) {
    await rt.luns.add(target, from);
    throw err;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
