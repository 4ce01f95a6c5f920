/** `scatter serve`: run the target in this process until SIGINT / SIGTERM; SIGHUP reloads the config. */
import { Option, type Command } from 'commander';
import { LOG_FORMATS, chooseLogFormat, wantsColour, type LogFormat } from '../log-format.js';
import { LogEvent } from '../../shared/log-events.js';
import { envValue } from '../../config/env-vars.js';

async function serve(path: string, logFormat: LogFormat | undefined): Promise<number> {
  // Loaded here, not at start-up: the admin subcommands need none of the server.
  const [{ createLogger }, { ConfigError }, { loadServeConfig }, { startScatter }] = await Promise.all([
    import('../logger.js'),
    import('../../config/load.js'),
    import('../../config/env-overrides.js'),
    import('../../server/start.js'),
  ]);
  let config, overrides;
  try {
    // SCATTER_PORTAL, SCATTER_ADMIN, SCATTER_DATA_DIR over the file (docs/operations.md, "The container").
    ({ config, overrides } = await loadServeConfig(path, process.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`scatter: invalid configuration\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // A terminal gets readable lines, anything else JSON; --log-format overrides.
  const tty = process.stdout.isTTY === true;
  const format = chooseLogFormat(logFormat, tty);
  const log = createLogger({ level: config.logLevel, format, colorize: format === 'pretty' && wantsColour(tty, process.env) });
  // A promise rejected where nobody listens is a bug, but one such bug must not take every
  // initiator's storage down with it: log it loudly and keep serving.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection (a bug); still serving'));
  let scatter;
  try {
    scatter = await startScatter(config, log, { configPath: path, overrides });
  } catch (err) {
    log.fatal({ event: LogEvent.startFailed, err }, 'start-up failed');
    // A library may leave a handle behind (etcd3 keeps retrying a watch it never connected, even
    // after close): exit anyway once the log is out. Unref'd, so a clean exit is not delayed.
    setTimeout(() => process.exit(1), 1000).unref();
    return 1;
  }
  // SIGHUP: re-read the config file and apply what can change live (LUNs added / removed / resized).
  const running = scatter;
  const reload = () => {
    log.info({ signal: 'SIGHUP', config: path }, 'reloading the configuration');
    running.reload().catch((err: unknown) => log.error({ err }, 'config reload failed'));
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ event: LogEvent.stopping, signal }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // Only once the handlers are in: whoever waits for this line may send SIGTERM at once.
    log.info({ event: LogEvent.started, config: path, environment: overrides.variables, targets: config.targets.map((t) => t.iqn) }, 'scatter is serving');
  });
  process.off('SIGHUP', reload);
  // stop() lets a reload under way finish before the LUNs are closed.
  await scatter.stop();
  log.info({ event: LogEvent.stopped }, 'stopped');
  return 0;
}

/** `serve` reads the global -c/--config (default config/scatter.yaml); its exit status goes to `done`. */
export function registerServe(program: Command, done: (code: number) => void): void {
  program
    .command('serve')
    .description('start the iSCSI target (config: -c/--config FILE, else $SCATTER_CONFIG, else config/scatter.yaml)')
    .addOption(new Option('--log-format <format>', 'JSON lines or pretty (default: pretty on a terminal, else JSON)').choices(LOG_FORMATS))
    .action(async function (this: Command) {
      const { config, logFormat } = this.optsWithGlobals<{ config?: string; logFormat?: LogFormat }>();
      done(await serve(config ?? envValue(process.env, 'SCATTER_CONFIG') ?? 'config/scatter.yaml', logFormat));
    });
}
