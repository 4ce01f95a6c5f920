/**
 * A validated config as it is written in a file or sent to the API: a LUN whose backstore is a
 * named one says the name, not the resolved object. Validating the file form gives the same
 * config back (the round trip the admin plane relies on to edit and persist).
 */
import type { Config, ConfigInput } from './schema.js';

export function toFileForm(config: Config): ConfigInput {
  return {
    ...config,
    targets: config.targets.map((target) => ({
      ...target,
      luns: target.luns.map(({ backstoreName, ...lun }) => (backstoreName === undefined ? lun : { ...lun, backstore: backstoreName })),
    })),
  };
}
