/**
 * The config file Scatter started from, kept in step with the running config: each commit
 * writes the new config into the operator's file (only the changed lines, see yaml-patch.ts),
 * atomically, after keeping the version it replaces as a backup. Commits run one at a time, in
 * call order, and never overwrite an edit made on disk since the file was last read or written.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../shared/atomic-write.js';
import { ScatterError } from '../shared/errors.js';
import { listBackups, pruneBackups, removeStaleTemps, writeBackup, type BackupInfo } from './backups.js';
import { parseConfig, readConfigText, stringifyConfig, validateConfig } from './load.js';
import { configRevision, sameValue } from './revision.js';
import type { Config } from './schema.js';
import { patchYamlText } from './yaml-patch.js';
import { toFileForm } from './file-form.js';

export type { BackupInfo } from './backups.js';

/** The file on disk is not what Scatter last read or wrote: someone edited it. Nothing was written. */
export class ConfigFileChangedError extends ScatterError<'CONFIG_CHANGED'> {
  constructor(readonly path: string) {
    super('CONFIG_CHANGED', `${path} was changed on disk since it was last read; reload it (SIGHUP) before changing the config`);
  }
}

export interface CommitResult {
  config: Config;
  revision: string;
  /** False when the config asked for is the one already in the file (nothing written). */
  changed: boolean;
  /** The backup holding the version replaced. */
  backup?: string;
  /** Set when the file had to be rewritten whole (its comments and layout lost), and why. */
  warning?: string;
}

export interface ConfigFileOptions {
  /** Backups kept beside the file (default 10). */
  keepBackups?: number;
}

interface State {
  text: string;
  config: Config;
  revision: string;
}

async function readState(path: string): Promise<State> {
  const text = await readConfigText(path);
  const config = parseConfig(text, path);
  return { text, config, revision: configRevision(config) };
}

export class ConfigFile {
  /** The last commit or reread; the next one starts when it settles. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private state: State,
    private readonly keepBackups: number,
  ) {}

  /** Read and validate the file (ConfigError when it is unreadable or invalid). */
  static async open(path: string, options: ConfigFileOptions = {}): Promise<ConfigFile> {
    const state = await readState(path);
    await removeStaleTemps(path);
    return new ConfigFile(path, state, options.keepBackups ?? 10);
  }

  /** The validated config the file holds. */
  get current(): Config {
    return this.state.config;
  }

  /** configRevision of `current`: the same content gives the same revision across restarts. */
  get revision(): string {
    return this.state.revision;
  }

  /** The file's text as last read or written. */
  get text(): string {
    return this.state.text;
  }

  /**
   * Write `next` (a Config, or anything validateConfig accepts) to the file. Throws ConfigError
   * when it does not validate and ConfigFileChangedError when the file was edited on disk; in
   * both cases nothing is written.
   */
  commit(next: unknown): Promise<CommitResult> {
    return this.serialise(() => this.commitNow(next));
  }

  /** Read the file again (after the operator edited it; SIGHUP). The old state stays if it is invalid. */
  reread(): Promise<Config> {
    return this.serialise(async () => {
      this.state = await readState(this.path);
      return this.state.config;
    });
  }

  /** The backups beside the file, newest first. */
  listBackups(): Promise<BackupInfo[]> {
    return listBackups(this.path);
  }

  private serialise<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async commitNow(next: unknown): Promise<CommitResult> {
    const onDisk = await readFile(this.path, 'utf8').catch(() => undefined);
    // The content decides: a `touch` loses nothing, an edit of the same length is still caught.
    if (onDisk !== this.state.text) throw new ConfigFileChangedError(this.path);
    const wanted = validateConfig(next, this.path);
    const revision = configRevision(wanted);
    if (revision === this.state.revision && sameValue(wanted, this.state.config)) {
      return { config: this.state.config, revision, changed: false };
    }
    const { text, warning } = this.render(wanted);
    const backup = await writeBackup(this.path, this.state.text);
    await writeFileAtomic(this.path, text);
    this.state = { text, config: wanted, revision };
    await pruneBackups(this.path, this.keepBackups);
    return { config: wanted, revision, changed: true, backup, ...(warning === undefined ? {} : { warning }) };
  }

  /** The new text: the old one patched, or (should the patch not read back as `wanted`) a full rewrite. */
  private render(wanted: Config): { text: string; warning?: string } {
    let problem: string;
    try {
      // File forms: a LUN whose backstore is named keeps saying the name.
      const patched = patchYamlText(this.state.text, toFileForm(this.state.config), toFileForm(wanted));
      if (sameValue(parseConfig(patched, this.path), wanted)) return { text: patched };
      problem = 'the edited text did not read back as the new config';
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    const text = stringifyConfig(wanted);
    if (!sameValue(parseConfig(text, this.path), wanted)) {
      throw new ScatterError('INTERNAL', `${this.path}: the new config does not read back as itself; nothing written`);
    }
    return { text, warning: `${this.path} rewritten whole, its comments and layout lost: ${problem}` };
  }
}
