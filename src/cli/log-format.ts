/**
 * Which log format `scatter serve` writes: JSON lines for machines (systemd, containers, CI), or
 * one readable line per event for a person at a terminal. No imports: the admin subcommands load
 * this with the command line, and none of the logger.
 */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `--log-format` wins; without it a terminal gets pretty lines and anything else JSON. */
export function chooseLogFormat(flag: LogFormat | undefined, isTTY: boolean): LogFormat {
  return flag ?? (isTTY ? 'pretty' : 'json');
}

/** Colour only for a terminal, and never against NO_COLOR (https://no-color.org). */
export function wantsColour(isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}
