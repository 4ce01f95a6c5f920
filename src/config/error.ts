import { ScatterError } from '../shared/errors.js';
/** One problem in a config: the field (or YAML position) and what is wrong with it. */
export interface ConfigIssue {
  /** Field path like `targets[0].luns[1].backstore.size`; `(root)` for the document itself. */
  readonly path: string;
  readonly message: string;
  /** 1-based position, for YAML syntax errors. */
  readonly line?: number;
  readonly column?: number;
}

/**
 * A config that cannot be used. The message has one line per issue, each
 * starting with the source (usually the file path), e.g.
 * `config/scatter.yaml: targets[0].luns[1].backstore.size: must be a multiple of blockSize (512)`.
 */
export class ConfigError extends ScatterError<'CONFIG_INVALID'> {
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super('CONFIG_INVALID', issues.map((issue) => formatIssue(source, issue)).join('\n'), options);
  }
}

function formatIssue(source: string, issue: ConfigIssue): string {
  if (issue.line !== undefined) {
    return `${source}:${issue.line}:${issue.column ?? 1}: ${issue.message}`;
  }
  return `${source}: ${issue.path}: ${issue.message}`;
}

/** ['targets', 0, 'luns', 1, 'lun'] -> "targets[0].luns[1].lun". */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}
