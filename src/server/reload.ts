import type { Logger } from 'pino';
import { ApplyError } from '../control/apply.js';
import { RefusedChangeError, type ControlPlane } from '../control/control-plane.js';
import { ConfigError } from '../config/load.js';
import { LogEvent } from '../shared/log-events.js';

/**
 * SIGHUP: re-read the config file and apply it whole through the control plane, or nothing of it.
 * Never rejects: every outcome ends up in the log, named so that an operator can grep for it.
 */
export async function reloadFromFile(control: ControlPlane, path: string, log: Logger): Promise<void> {
  try {
    const result = await control.reload();
    log.info(
      {
        ...reload('applied'),
        config: path,
        revision: result.revision,
        applied: result.steps.length,
        steps: result.steps,
        needsRestart: result.needsRestart,
        warnings: result.warnings,
      },
      'config reloaded',
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error({ ...reload('invalid'), config: path, issues: err.message.split('\n') }, 'config reload: invalid configuration; nothing changed');
    } else if (err instanceof RefusedChangeError) {
      log.error({ ...reload('refused'), config: path, refused: err.refused }, 'config reload refused; nothing changed');
    } else if (err instanceof ApplyError) {
      log.error(
        { ...reload('failed'), config: path, step: err.step, reason: err.reason, undoFailures: err.undoFailures },
        'config reload failed; what was applied is undone',
      );
    } else {
      log.error({ ...reload('failed'), err, config: path }, 'config reload failed');
    }
  }
}

/** The `config_reload` line's fixed fields: one line per SIGHUP, whatever came of it. */
function reload(outcome: 'applied' | 'invalid' | 'refused' | 'failed'): { event: string; outcome: string } {
  return { event: LogEvent.configReload, outcome };
}
