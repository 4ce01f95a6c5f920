/**
 * The logger of `scatter serve`, in either format (log-format.ts). Pretty lines come from
 * pino-pretty in this process, synchronously: a line is written before the next statement runs,
 * and nothing is left in a worker's queue at exit.
 */
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { LogFormat } from './log-format.js';

/**
 * Field names that hold secrets, blanked wherever a line might carry them (top level or one level
 * down). Nothing is meant to log them; this is the net under that rule.
 */
const SECRET_PATHS = ['secret', 'mutualSecret', 'token', 'password', 'authorization'].flatMap((k) => [k, `*.${k}`]);

export interface LoggerOptions {
  readonly level: Level | 'silent';
  readonly format: LogFormat;
  /** Pretty format only: ANSI colours. */
  readonly colorize?: boolean;
  /** Where lines go (default: stdout, synchronously). */
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const out = opts.destination ?? pino.destination({ fd: 1, sync: true });
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: SECRET_PATHS, censor: '[redacted]' },
    },
    opts.format === 'json' ? out : prettyDestination(out, opts.colorize ?? false),
  );
}

/** Each JSON line, as pino made it, rewritten as one human line. */
function prettyDestination(out: DestinationStream, colorize: boolean): DestinationStream {
  const prettify = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    // The event name leads, where the eye looks first; the pid stays (`kill -HUP` needs it).
    messageFormat: '{if event}{event}: {end}{msg}',
    ignore: 'hostname,event',
  });
  return { write: (line: string) => out.write(prettify(line)) };
}
