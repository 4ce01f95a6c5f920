#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import { startScatter } from '../server/start.js';

// Small Data-In buffers and BHSs come from Node's shared slab: a bigger slab serves
// 4-32 KiB reads without a separate allocation each (fewer mallocs, less GC work).
Buffer.poolSize = 128 * 1024;

const USAGE = `usage: scatter serve [--config FILE]

  serve   start the iSCSI target (default config: config/scatter.yaml)`;

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c', default: 'config/scatter.yaml' } } });
  const path = values.config!;
  let config;
  try {
    config = await loadConfig(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`scatter: invalid configuration\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  // A promise rejected where nobody listens is a bug, but one such bug must not take every
  // initiator's storage down with it: log it loudly and keep serving.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection (a bug); still serving'));
  let scatter;
  try {
    scatter = await startScatter(config, log, { configPath: path });
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    return 1;
  }
  // SIGHUP: re-read the config file and apply what can change live (LUNs added / removed / resized).
  const running = scatter;
  const reload = () => {
    log.info({ signal: 'SIGHUP', config: path }, 'reloading the configuration');
    running.reload().catch((err: unknown) => log.error({ err }, 'config reload failed'));
  };
  process.on('SIGHUP', reload);
  log.info({ config: path, targets: config.targets.map((t) => t.iqn) }, 'scatter is serving');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.off('SIGHUP', reload);
  // stop() lets a reload under way finish before the LUNs are closed.
  await scatter.stop();
  log.info('stopped');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`scatter: unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`scatter: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
