/**
 * Edit a YAML file's text so that it holds a new value, changing only the text of what changed.
 *
 * yaml's Document.toString() re-lays the whole file out (trailing comments lose their alignment,
 * multi-line trailing comments move), so edits are spliced into the original text instead: the
 * parsed Document gives every node's source range, each difference between `before` and `after`
 * becomes one text edit at those ranges, and every other byte stays as the operator wrote it.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { sameValue } from './revision.js';
import { formatSize } from './size.js';
import {
  YamlPatchError,
  applyEdits,
  blockOrFlow,
  blockText,
  column,
  commentStart,
  dashColumn,
  endOfLine,
  entryText,
  flowText,
  indentRest,
  isBlockCollection,
  isPlainObject,
  startOfLine,
  type Edit,
} from './yaml-text.js';

export { YamlPatchError } from './yaml-text.js';

export type YamlPath = readonly (string | number)[];

export interface PatchOptions {
  /**
   * The identity of an item of the sequence at `path` (e.g. a target's iqn), or undefined for
   * none. Sequences whose items all have distinct identities are patched item by item; others are
   * replaced whole when they differ. Default: defaultKeyOf.
   */
  keyOf?: (path: YamlPath, item: unknown) => string | undefined;
  /** The value to write at `path` (called for every value written). Default: defaultFormat. */
  format?: (path: YamlPath, value: unknown) => unknown;
}


/** Byte-size keys of the config schema: written with a unit where exact (1073741824 -> 1GiB). */
const SIZE_KEYS = new Set([
  'size',
  'pageSize',
  'sanitizeRate',
  'maxRecvDataSegmentLength',
  'maxBurstLength',
  'firstBurstLength',
  'maxBufferedWriteBytes',
  'maxBufferedWriteBytesPerSession',
  'maxBufferedReadBytes',
  'maxQueuedBytesPerConnection',
]);

/** Identities of the config's sequences, by the key that holds the sequence. */
const IDENTITIES: Record<string, (item: Record<string, unknown>) => unknown> = {
  targets: (item) => item.iqn,
  luns: (item) => item.lun,
  acls: (item) => item.initiator,
  backstores: (item) => item.name,
  portals: (item) => (item.host === undefined || item.port === undefined ? undefined : `${String(item.host)}:${String(item.port)}`),
};

function lastKey(path: YamlPath): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return path[i] as string;
  return undefined;
}

export function defaultKeyOf(path: YamlPath, item: unknown): string | undefined {
  const identity = IDENTITIES[lastKey(path) ?? ''];
  if (identity === undefined || !isPlainObject(item)) return undefined;
  const key = identity(item);
  return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined;
}

export function defaultFormat(path: YamlPath, value: unknown): unknown {
  const key = path[path.length - 1];
  return typeof key === 'string' && SIZE_KEYS.has(key) && typeof value === 'number' ? formatSize(value) : value;
}


/** Where a node sits, which decides how a replacement is written. */
type Slot = { kind: 'root' } | { kind: 'pair'; pair: Pair<Node, Node | null>; flow: boolean } | { kind: 'item'; flow: boolean };

interface Ctx {
  text: string;
  edits: Edit[];
  keyOf: (path: YamlPath, item: unknown) => string | undefined;
  format: (path: YamlPath, value: unknown) => unknown;
}

/**
 * The text of `text` (whose YAML means `before`) changed to mean `after`: only the parts where
 * `before` and `after` differ are rewritten. A value equal in both is left as written, even when
 * the file spells it differently (`1GiB`, a relative path) or leaves it out (a default).
 * Throws YamlPatchError when the file's layout does not allow a splice.
 */
export function patchYamlText(text: string, before: unknown, after: unknown, options: PatchOptions = {}): string {
  if (sameValue(before, after)) return text;
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new YamlPatchError(`the file does not parse: ${doc.errors[0]?.message ?? ''}`);
  const ctx: Ctx = { text, edits: [], keyOf: options.keyOf ?? defaultKeyOf, format: options.format ?? defaultFormat };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    // An empty file (perhaps only comments): keep what is there and add the differences below it.
    const body = blockText(formatDeep(ctx, [], sparse(before, after)));
    const start = root?.range?.[0] ?? text.length;
    const end = root?.range?.[1] ?? text.length;
    const lead = start > 0 && text[start - 1] !== '\n' ? '\n' : '';
    ctx.edits.push({ start, end, text: lead + body });
  } else {
    patchNode(ctx, root, [], before, after, { kind: 'root' });
  }
  return applyEdits(text, ctx.edits);
}

function patchNode(ctx: Ctx, node: Node, path: YamlPath, before: unknown, after: unknown, slot: Slot): void {
  if (sameValue(before, after)) return;
  if (isMap(node) && isPlainObject(before) && isPlainObject(after)) {
    patchMap(ctx, node as YAMLMap<Node, Node | null>, path, before, after, slot);
  } else if (isSeq(node) && Array.isArray(before) && Array.isArray(after) && !node.flow) {
    patchSeq(ctx, node as YAMLSeq<Node>, path, before, after, slot);
  } else {
    replaceNode(ctx, node, path, after, slot);
  }
}

function patchMap(ctx: Ctx, node: YAMLMap<Node, Node | null>, path: YamlPath, before: Record<string, unknown>, after: Record<string, unknown>, slot: Slot): void {
  const pairs = new Map<string, Pair<Node, Node | null>>();
  for (const pair of node.items) {
    if (!isScalar(pair.key)) throw new YamlPatchError(`a complex key at ${formatPath(path)}`);
    pairs.set(String(pair.key.value), pair);
  }
  const kept = node.items.filter((pair) => after[keyName(pair)] !== undefined);
  if (kept.length === 0) {
    replaceNode(ctx, node, path, after, slot);
    return;
  }
  const flow = Boolean(node.flow);
  deletePairs(ctx, node, node.items.map((pair) => after[keyName(pair)] === undefined), flow);
  for (const pair of node.items) {
    const key = keyName(pair);
    const next = after[key];
    if (next === undefined) continue;
    if (pair.value === null) replaceEntry(ctx, pair, [...path, key], next);
    else patchNode(ctx, pair.value, [...path, key], before[key], next, { kind: 'pair', pair, flow });
  }
  // New keys, appended in `after`'s order.
  const added: string[] = [];
  for (const [key, next] of Object.entries(after)) {
    if (next === undefined || pairs.has(key) || sameValue(before[key], next)) continue;
    const value = formatDeep(ctx, [...path, key], sparse(before[key], next));
    added.push(flow ? `, ${flowText(key)}: ${flowText(value)}` : entryText(flowText(key), value, column(ctx.text, keyStart(node.items[0]))));
  }
  if (added.length === 0) return;
  const last = node.items[node.items.length - 1] as Pair<Node, Node | null>;
  const at = flow ? pairValueEnd(last) : endOfLine(ctx.text, pairEnd(last));
  const lead = !flow && at > 0 && ctx.text[at - 1] !== '\n' ? '\n' : '';
  ctx.edits.push({ start: at, end: at, text: lead + added.join('') });
}

/** Remove the pairs flagged in `deleted` (at least one pair is kept), each with the comment lines right above it. */
function deletePairs(ctx: Ctx, node: YAMLMap<Node, Node | null>, deleted: boolean[], flow: boolean): void {
  const items = node.items;
  const kept = (from: number): number => deleted.findIndex((gone, i) => i >= from && !gone);
  if (flow) {
    // `a: 1, b: 2, c: 3`: a pair before the last kept one goes with the `, ` after it; the pairs
    // after the last kept one go with the `, ` before them.
    const lastKept = deleted.lastIndexOf(false);
    items.forEach((pair, i) => {
      if (deleted[i] && i < lastKept) ctx.edits.push({ start: keyStart(pair), end: keyStart(items[i + 1] as Pair<Node, Node | null>), text: '' });
    });
    if (lastKept < items.length - 1) {
      const from = pairValueEnd(items[lastKept] as Pair<Node, Node | null>);
      ctx.edits.push({ start: from, end: pairValueEnd(items[items.length - 1] as Pair<Node, Node | null>), text: '' });
    }
    return;
  }
  for (let i = 0; i < items.length; i++) {
    if (!deleted[i]) continue;
    const pair = items[i] as Pair<Node, Node | null>;
    const start = keyStart(pair);
    const lineStart = startOfLine(ctx.text, start);
    if (ctx.text.slice(lineStart, start).trim() === '') {
      ctx.edits.push({ start: commentStart(ctx.text, lineStart), end: endOfLine(ctx.text, pairEnd(pair)), text: '' });
      continue;
    }
    // The first key of a sequence item (`- key: v`): the next kept key moves up onto the `- ` line.
    const next = kept(i + 1);
    if (next < 0) throw new YamlPatchError('a map sharing its line with a sequence indicator, with no key kept after it');
    ctx.edits.push({ start, end: keyStart(items[next] as Pair<Node, Node | null>), text: '' });
    i = next - 1;
  }
}

function patchSeq(ctx: Ctx, node: YAMLSeq<Node>, path: YamlPath, before: unknown[], after: unknown[], slot: Slot): void {
  const beforeKeys = before.map((item) => ctx.keyOf(path, item));
  const afterKeys = after.map((item) => ctx.keyOf(path, item));
  const identified = (keys: (string | undefined)[]): keys is string[] => keys.every((k) => k !== undefined) && new Set(keys).size === keys.length;
  if (!identified(beforeKeys) || !identified(afterKeys) || node.items.length !== before.length) {
    replaceNode(ctx, node, path, after, slot);
    return;
  }
  const keptBefore = beforeKeys.filter((key) => afterKeys.includes(key));
  const keptAfter = afterKeys.filter((key) => beforeKeys.includes(key));
  if (keptBefore.length === 0 || keptBefore.join('\0') !== keptAfter.join('\0')) {
    // Nothing to anchor on, or a reorder: written whole.
    replaceNode(ctx, node, path, after, slot);
    return;
  }
  const first = node.items[0] as Node;
  const dash = dashColumn(ctx.text, nodeStart(first));
  const itemStart = (item: Node): number => commentStart(ctx.text, startOfLine(ctx.text, nodeStart(item)));
  node.items.forEach((item, index) => {
    const key = beforeKeys[index] as string;
    const to = afterKeys.indexOf(key);
    if (to < 0) {
      ctx.edits.push({ start: itemStart(item), end: endOfLine(ctx.text, nodeEnd(item)), text: '' });
    } else {
      patchNode(ctx, item, [...path, to], before[index], after[to], { kind: 'item', flow: false });
    }
  });
  const last = node.items[node.items.length - 1] as Node;
  const end = endOfLine(ctx.text, nodeEnd(last));
  afterKeys.forEach((key, to) => {
    if (beforeKeys.includes(key)) return;
    // Before the next kept item (and its comments), or after the last item.
    const nextKept = afterKeys.slice(to + 1).find((k) => beforeKeys.includes(k));
    const at = nextKept === undefined ? end : itemStart(node.items[beforeKeys.indexOf(nextKept)] as Node);
    const lead = at > 0 && ctx.text[at - 1] !== '\n' ? '\n' : '';
    const value = formatDeep(ctx, [...path, to], after[to]);
    // In the style of the first item: `- { host: ..., port: ... }` stays one line.
    const itemText = isFlow(first) ? `${flowText(value)}\n` : indentRest(blockOrFlow(value), dash + 2);
    ctx.edits.push({ start: at, end: at, text: `${lead}${' '.repeat(dash)}- ${itemText}` });
  });
}

/** Write `after` in place of `node`, in the style its place allows. */
function replaceNode(ctx: Ctx, node: Node, path: YamlPath, after: unknown, slot: Slot): void {
  const value = formatDeep(ctx, path, after);
  if (after === undefined) throw new YamlPatchError(`cannot write undefined at ${formatPath(path)}`);
  const [start, valueEnd, end] = range(node);
  // A scalar or flow collection is rewritten in place (a flow collection stays one); a block one,
  // or a scalar becoming a collection, as block lines.
  const inline = isFlow(node) && (!isBlockCollection(value) || isMap(node) || isSeq(node) || (slot.kind !== 'root' && slot.flow));
  if (inline) {
    ctx.edits.push({ start, end: valueEnd, text: flowText(value) });
  } else if (slot.kind === 'pair') {
    replaceEntry(ctx, slot.pair, path, after);
  } else if (slot.kind === 'item') {
    ctx.edits.push({ start, end: endOfLine(ctx.text, end), text: indentRest(blockOrFlow(value), column(ctx.text, start)) });
  } else {
    ctx.edits.push({ start, end, text: blockOrFlow(value) });
  }
}

/** Rewrite a whole block `key: value` entry (the key as written, comments above it kept). */
function replaceEntry(ctx: Ctx, pair: Pair<Node, Node | null>, path: YamlPath, after: unknown): void {
  const value = formatDeep(ctx, path, after);
  const start = keyStart(pair);
  const keyText = ctx.text.slice(start, range(pair.key)[1]);
  ctx.edits.push({ start, end: endOfLine(ctx.text, pairEnd(pair)), text: entryText(keyText, value, column(ctx.text, start)).trimStart() });
}

function formatDeep(ctx: Ctx, path: YamlPath, value: unknown): unknown {
  let inner: unknown = value;
  if (Array.isArray(value)) inner = value.map((item, i) => formatDeep(ctx, [...path, i], item));
  else if (isPlainObject(value)) {
    inner = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, formatDeep(ctx, [...path, k], v)]));
  }
  return ctx.format(path, inner);
}









/** Of `after`, what differs from `before` where both are maps (a key absent from the file keeps its default). */
function sparse(before: unknown, after: unknown): unknown {
  if (!isPlainObject(before) || !isPlainObject(after)) return after;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (value !== undefined && !sameValue(before[key], value)) out[key] = sparse(before[key], value);
  }
  return out;
}



function range(node: Node | null | undefined): [number, number, number] {
  const r = node?.range;
  if (r === undefined || r === null) throw new YamlPatchError('a node without a source position');
  return [r[0], r[1], r[2]];
}

function nodeStart(node: Node): number {
  return range(node)[0];
}

function nodeEnd(node: Node): number {
  return range(node)[2];
}

function keyName(pair: Pair<Node, Node | null>): string {
  return isScalar(pair.key) ? String(pair.key.value) : '';
}

function keyStart(pair: Pair<Node, Node | null>): number {
  return range(pair.key)[0];
}

function pairEnd(pair: Pair<Node, Node | null>): number {
  return pair.value === null ? range(pair.key)[2] : range(pair.value)[2];
}

function pairValueEnd(pair: Pair<Node, Node | null>): number {
  return pair.value === null ? range(pair.key)[1] : range(pair.value)[1];
}

function isFlow(node: Node): boolean {
  return isScalar(node) || isAlias(node) || ((isMap(node) || isSeq(node)) && Boolean(node.flow));
}







function formatPath(path: YamlPath): string {
  return path.length === 0 ? '(root)' : path.join('.');
}
