/**
 * Just enough of a Dockerfile reader for test/integration/container-image.test.ts: instructions
 * with their continuation lines joined, stages, exec-form commands, ENV pairs and COPY arguments.
 * No variable substitution and no heredocs: docker/Dockerfile uses neither (the test says so).
 */

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ENV, ... */
  readonly op: string;
  readonly args: string;
  /** 1-based line of the instruction's first line. */
  readonly line: number;
}

export interface Stage {
  readonly name: string | undefined;
  readonly base: string;
  readonly instructions: readonly Instruction[];
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (pending === undefined && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending !== undefined && line.trimStart().startsWith('#')) return; // comments inside a continuation
    const continues = line.endsWith('\\');
    const body = continues ? line.slice(0, -1) : line;
    pending = pending === undefined ? { text: body.trim(), line: i + 1 } : { ...pending, text: `${pending.text} ${body.trim()}` };
    if (continues) return;
    const m = /^(\S+)\s*(.*)$/.exec(pending.text)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: pending.line });
    pending = undefined;
  });
  return out;
}

export function stages(instructions: readonly Instruction[]): Stage[] {
  const out: { name: string | undefined; base: string; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      out.push({ name: m[2], base: m[1]!, instructions: [] });
    } else {
      const stage = out.at(-1);
      if (!stage) throw new Error(`line ${ins.line}: ${ins.op} before FROM`);
      stage.instructions.push(ins);
    }
  }
  return out;
}

/** `["a", "b"]` (exec form) as an array; a shell-form command is refused (the image uses none). */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a): a is string => typeof a === 'string')) throw new Error(`not an exec-form command: ${args}`);
  return parsed;
}

/** `KEY=VALUE KEY2=VALUE2` (values without spaces or quotes, as the image writes them). */
export function envPairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of args.split(/\s+/)) {
    const at = word.indexOf('=');
    if (at <= 0 || /["']/.test(word)) throw new Error(`ENV ${args}: only KEY=VALUE pairs without quotes are read`);
    out[word.slice(0, at)] = word.slice(at + 1);
  }
  return out;
}

export interface Copy {
  /** --from=STAGE, when the sources come from another stage rather than the build context. */
  readonly from: string | undefined;
  readonly chown: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
}

export function copyArgs(args: string): Copy {
  const words = args.split(/\s+/);
  const flags = new Map<string, string>();
  while (words[0]?.startsWith('--')) {
    const [k, v] = words.shift()!.slice(2).split('=', 2);
    flags.set(k!, v ?? '');
  }
  const dest = words.pop();
  if (dest === undefined || words.length === 0) throw new Error(`COPY ${args}: needs a source and a destination`);
  return { from: flags.get('from'), chown: flags.get('chown'), sources: words, dest };
}

/** HEALTHCHECK [OPTIONS] CMD [...]: the options and the exec-form command. */
export function healthcheck(args: string): { options: Record<string, string>; command: string[] } {
  const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/.exec(args);
  if (!m) throw new Error(`HEALTHCHECK ${args}: expected [OPTIONS] CMD [...]`);
  const options: Record<string, string> = {};
  for (const flag of m[1]!.trim().split(/\s+/).filter((f) => f !== '')) {
    const [k, v] = flag.slice(2).split('=', 2);
    options[k!] = v ?? '';
  }
  return { options, command: execForm(m[2]!) };
}
