/**
 * The running target as one typed model, and the one way to change it: validate (the caller hands
 * a validated Config) → plan (a diff against what runs) → apply (all or nothing) → persist. The
 * admin API, `PUT /v1/config` and SIGHUP all come through here, one change at a time.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { toFileForm } from '../config/file-form.js';
import type { BackupInfo } from '../config/backups.js';
import { ConfigFileChangedError } from '../config/config-file.js';
import type { Config } from '../config/schema.js';
import { ScatterError } from '../shared/errors.js';
import { LogEvent } from '../shared/log-events.js';
import { applyPlan, type LiveRuntime } from './apply.js';
import { Revisions } from './revisions.js';
import { describeStep, inEffect, planChange, type FaultLookup } from './plan.js';

/** Where the desired config lives between restarts: the file Scatter started from. */
export interface ConfigPersistence {
  /** Reads the file again (SIGHUP). Rejects with a ConfigError naming every bad field. */
  reread(): Promise<Config>;
  /** Writes `next` over `previous` (comments kept), atomically. Rejects having written nothing. */
  commit(previous: Config, next: Config): Promise<void>;
  /** The backups kept beside the file, newest first. */
  listBackups(): Promise<readonly BackupInfo[]>;
}

export interface ControlPlaneOptions {
  /** The config Scatter started with: desired and running at first. */
  readonly config: Config;
  readonly runtime: LiveRuntime;
  /** Which running LUNs are not serving normally (a re-applied config retries them). */
  readonly faultOf: FaultLookup;
  /** Undefined: started without a file, changes live in memory only. */
  readonly persistence?: ConfigPersistence;
  /** Keys set outside the config (the environment): one line per such key `next` changes from `desired`. */
  readonly pinned?: (desired: Config, next: Config) => readonly string[];
  /** After each change that was applied (cluster mode: the LUs this node serves are tracked again). */
  readonly onApplied?: (running: Config) => Promise<void>;
  readonly log: Logger;
}

export interface ChangeOptions {
  /** Plan only: nothing is applied or written. */
  readonly dryRun?: boolean;
  /** The whole config is re-applied by the operator (see PlanOptions.reapply). */
  readonly reapply?: boolean;
}

export interface ChangeResult {
  /** Revision of the desired config after the change (before it, for a dry run). */
  readonly revision: string;
  /** Whether the desired config differs from the one before. */
  readonly changed: boolean;
  readonly dryRun: boolean;
  /** What was (or, for a dry run, would be) done to the running target, in order. */
  readonly steps: readonly string[];
  /** Written to the config, in effect after a restart. */
  readonly needsRestart: readonly string[];
  /** Best-effort steps that did not succeed (an LU still offline). */
  readonly warnings: readonly string[];
}

/** The change would lose data (a shrink); nothing was applied or written. */
export class RefusedChangeError extends ScatterError<'CONFIG_REFUSED'> {
  constructor(readonly refused: readonly string[]) {
    super('CONFIG_REFUSED', refused.join('; '));
  }
}

/** The change touches keys set outside the config (SCATTER_PORTAL, ...); nothing was applied or written. */
export class PinnedChangeError extends ScatterError<'CONFIG_PINNED'> {
  constructor(readonly pinned: readonly string[]) {
    super('CONFIG_PINNED', pinned.join('; '));
  }
}

/** The change was applied but could not be written; it was undone. */
export class PersistError extends ScatterError<'CONFIG_PERSIST'> {
  constructor(reason: string, options?: ErrorOptions) {
    super('CONFIG_PERSIST', `the config could not be stored (${reason}); the change was undone`, options);
  }
}

export class ControlPlane {
  private desiredConfig: Config;
  private runningConfig: Config;
  private chain: Promise<unknown> = Promise.resolve();
  /** Tags of the config and of resources in it (ETags). */
  readonly revisions = new Revisions();

  constructor(private readonly opts: ControlPlaneOptions) {
    this.desiredConfig = opts.config;
    this.runningConfig = opts.config;
  }

  /** The config as configured (the file's content): what the API shows and edits. */
  get desired(): Config {
    return this.desiredConfig;
  }

  /** What runs: `desired` except what waits for a restart. */
  get running(): Config {
    return this.runningConfig;
  }

  /** The desired config's revision (its ETag); the same content has the same revision while Scatter runs. */
  get revision(): string {
    return this.revisions.of(toFileForm(this.desiredConfig));
  }

  /** At start-up, with `admin.port: 0` (tests): the model records the port the kernel picked. */
  adoptBoundAdminPort(port: number): void {
    this.desiredConfig = { ...this.desiredConfig, admin: { ...this.desiredConfig.admin, port } };
    this.runningConfig = { ...this.runningConfig, admin: { ...this.runningConfig.admin, port } };
  }

  /** Changes configured that only a restart applies. */
  get pendingRestart(): readonly string[] {
    return planChange(this.runningConfig, this.desiredConfig).needsRestart;
  }

  /**
   * Change the desired config to what `edit` makes of it (a validated Config; `edit` may throw,
   * e.g. on a stale revision, and runs when earlier changes are done, so it sees the latest).
   */
  change(edit: (desired: Config) => Config | Promise<Config>, opts: ChangeOptions = {}): Promise<ChangeResult> {
    return this.serialised(async () => this.changeTo(await edit(this.desiredConfig), opts, 'api'));
  }

  /** SIGHUP: the file is the desired config; apply it as the operator re-applying everything. */
  reload(): Promise<ChangeResult> {
    return this.serialised(async () => {
      const persistence = this.opts.persistence;
      if (!persistence) throw new Error('started without a config file: nothing to reload');
      const next = await persistence.reread();
      return this.changeTo(next, { reapply: true }, 'reload');
    });
  }

  /** The config file's backups, newest first (none when started without a file). */
  backups(): Promise<readonly BackupInfo[]> {
    return this.opts.persistence?.listBackups() ?? Promise.resolve([]);
  }

  /** Resolves when no change is under way. */
  async idle(): Promise<void> {
    await this.chain;
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** `via`: an API change is written to the file; a reload came from it. */
  private async changeTo(next: Config, opts: ChangeOptions, via: 'api' | 'reload'): Promise<ChangeResult> {
    const persist = via === 'api';
    const { log, runtime, persistence, faultOf } = this.opts;
    const plan = planChange(this.runningConfig, next, opts.reapply ? { reapply: faultOf } : {});
    const changed = !isDeepStrictEqual(next, this.desiredConfig);
    if (plan.refused.length > 0) throw new RefusedChangeError(plan.refused);
    const pinned = this.opts.pinned?.(this.desiredConfig, next) ?? [];
    if (pinned.length > 0) throw new PinnedChangeError(pinned);
    const steps = plan.steps.map(describeStep);
    if (opts.dryRun) {
      return { revision: this.revision, changed, dryRun: true, steps, needsRestart: plan.needsRestart, warnings: [] };
    }
    const applied = await applyPlan(plan, runtime, log);
    if (changed && persist && persistence) {
      try {
        await persistence.commit(this.desiredConfig, next);
      } catch (err) {
        const undoFailures = await applied.rollback();
        log.error({ err, undoFailures }, 'config change not written; undone');
        // The operator edited the file: a refusal with its own meaning (reload first), not a failure.
        if (err instanceof ConfigFileChangedError) throw err;
        throw new PersistError(err instanceof Error ? err.message : String(err), { cause: err });
      }
    }
    this.desiredConfig = next;
    this.runningConfig = inEffect(this.runningConfig, next);
    if (steps.length > 0) await this.opts.onApplied?.(this.runningConfig);
    for (const change of plan.needsRestart) log.warn({ change }, 'config change needs a restart');
    if (steps.length > 0 || changed) {
      log.info(
        { event: LogEvent.configApplied, via, revision: this.revision, steps, needsRestart: plan.needsRestart, warnings: applied.warnings },
        'config changed',
      );
    }
    return { revision: this.revision, changed, dryRun: false, steps: applied.done, needsRestart: plan.needsRestart, warnings: applied.warnings };
  }
}
