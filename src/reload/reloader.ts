import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { LiveLuns } from '../runtime/live-luns.js';
import { applyReload } from './apply.js';
import { planReload } from './plan.js';

/**
 * `scatter serve`'s SIGHUP: re-read the config file and apply what can be applied live. An invalid
 * file is logged and changes nothing. Reloads run one at a time, in the order asked for.
 */
export class ConfigReloader {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    /** The config in effect; after each reload, what really runs. */
    private running: Config,
    private readonly luns: LiveLuns,
    private readonly log: Logger,
  ) {}

  get config(): Config {
    return this.running;
  }

  /** Never rejects: every problem ends up in the log. */
  reload(): Promise<void> {
    this.chain = this.chain.then(() => this.once());
    return this.chain;
  }

  /** Resolves when no reload is under way. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async once(): Promise<void> {
    try {
      let next: Config;
      try {
        next = await loadConfig(this.path);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        this.log.error({ config: this.path, issues: err.message.split('\n') }, 'config reload: invalid configuration; nothing changed');
        return;
      }
      // Offline LUs are opened again, failed write-backs acknowledged (the reload is the operator acting).
      const plan = planReload(this.running, next, (iqn, lun) => this.luns.faultOf(iqn, lun));
      const outcome = await applyReload(plan, this.running, this.luns, this.log);
      this.running = outcome.config;
      this.log.info(
        {
          config: this.path,
          applied: outcome.applied,
          failed: outcome.failed,
          needsRestart: plan.needsRestart.length,
          refused: plan.refused.length,
        },
        'config reloaded',
      );
    } catch (err) {
      this.log.error({ err, config: this.path }, 'config reload failed');
    }
  }
}
