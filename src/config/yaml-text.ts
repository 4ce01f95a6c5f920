/** Text helpers of yaml-patch.ts: YAML rendering of new values, line positions, and splicing edits into a text. */
import { stringify } from 'yaml';
import { ScatterError } from '../shared/errors.js';

/** The patch cannot be spliced into this file's text (e.g. an odd layout); the caller rewrites the file whole. */
export class YamlPatchError extends ScatterError<'CONFIG_PATCH_UNSUPPORTED'> {
  constructor(message: string) {
    super('CONFIG_PATCH_UNSUPPORTED', message);
  }
}

/** Replace text[start, end) by `text` (start = end: an insertion). */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** `key: value\n` with its first line at `indent`: a scalar or empty value inline, a collection as block lines below. */
export function entryText(keyText: string, value: unknown, indent: number): string {
  const pad = ' '.repeat(indent);
  if (!isBlockCollection(value)) return `${pad}${keyText}: ${flowText(value)}\n`;
  return `${pad}${keyText}:\n${indentAll(blockText(value), indent + 2)}`;
}

/** A new value as lines: block style for a non-empty collection, else one flow line. */
export function blockOrFlow(value: unknown): string {
  return isBlockCollection(value) ? blockText(value) : `${flowText(value)}\n`;
}

export function blockText(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

/** One line of flow YAML, quoted as a flow collection needs (`a,b` must be quoted there). */
export function flowText(value: unknown): string {
  const text = stringify([value], { collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
  if (!text.startsWith('[ ') || !text.endsWith(' ]') || text.includes('\n')) {
    return JSON.stringify(value);
  }
  return text.slice(2, -2);
}

/** Indent every non-empty line. */
export function indentAll(text: string, indent: number): string {
  const pad = ' '.repeat(indent);
  return text.replace(/^(?=.)/gm, pad);
}

/** Indent every non-empty line but the first (it continues a line already indented). */
export function indentRest(text: string, indent: number): string {
  const pad = ' '.repeat(indent);
  return text.replace(/\n(?=.)/g, `\n${pad}`);
}

export function isBlockCollection(value: unknown): boolean {
  return (Array.isArray(value) && value.length > 0) || (isPlainObject(value) && Object.values(value).some((v) => v !== undefined));
}

/**
 * Edits that keep a line's trailing comment in its column when the edits before it on that line
 * made the line longer or shorter (only for lines whose edits all stay within the line).
 */
export function alignComments(text: string, edits: Edit[]): Edit[] {
  const lines = new Map<number, Edit[] | null>();
  for (const edit of edits) {
    const lineStart = startOfLine(text, edit.start);
    const multiline = edit.text.includes('\n') || text.slice(edit.start, edit.end).includes('\n');
    const group = lines.get(lineStart);
    if (multiline || group === null) lines.set(lineStart, null);
    else lines.set(lineStart, [...(group ?? []), edit]);
  }
  const out: Edit[] = [];
  for (const group of lines.values()) {
    if (group === null) continue;
    const last = Math.max(...group.map((edit) => edit.end));
    const lineEnd = text.indexOf('\n', last);
    // Between the last edit and the comment: no quote or `#` that could make the `#` not a comment.
    const gap = /^([^#"']*?)( +)#/.exec(text.slice(last, lineEnd < 0 ? undefined : lineEnd));
    if (gap === null) continue;
    const growth = group.reduce((sum, edit) => sum + edit.text.length - (edit.end - edit.start), 0);
    const start = last + (gap[1] as string).length;
    const spaces = (gap[2] as string).length;
    out.push({ start, end: start + spaces, text: ' '.repeat(Math.max(1, spaces - growth)) });
  }
  return out;
}

export function applyEdits(text: string, edits: Edit[]): string {
  const sorted = [...edits, ...alignComments(text, edits)].map((edit, order) => ({ ...edit, order })).sort((a, b) => a.start - b.start || a.order - b.order);
  let out = '';
  let at = 0;
  for (const edit of sorted) {
    if (edit.start < at) throw new YamlPatchError('overlapping edits');
    out += text.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + text.slice(at);
}

export function startOfLine(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** Just past the newline ending the line `pos` is on (or already at a line start). */
export function endOfLine(text: string, pos: number): number {
  if (pos > 0 && text[pos - 1] === '\n') return pos;
  const newline = text.indexOf('\n', pos);
  return newline < 0 ? text.length : newline + 1;
}

export function column(text: string, pos: number): number {
  return pos - startOfLine(text, pos);
}

/** The `-` of the sequence item whose value starts at `pos`. */
export function dashColumn(text: string, pos: number): number {
  const lineStart = startOfLine(text, pos);
  const dash = text.lastIndexOf('-', pos - 1);
  if (dash < lineStart) throw new YamlPatchError('a sequence item not on its own line');
  return dash - lineStart;
}

/** Extend a deletion that starts at line `lineStart` over the comment lines right above it, at its indentation. */
export function commentStart(text: string, lineStart: number): number {
  const indent = /^ */.exec(text.slice(lineStart))?.[0].length ?? 0;
  let start = lineStart;
  while (start > 0) {
    const prev = startOfLine(text, start - 1);
    const line = text.slice(prev, start - 1);
    if (!new RegExp(`^ {${indent}}#`).test(line)) break;
    start = prev;
  }
  return start;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
