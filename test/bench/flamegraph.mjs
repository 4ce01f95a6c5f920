#!/usr/bin/env node
// Flame graph of a V8 CPU profile (the JSON `node --cpu-prof` writes), as one standalone SVG.
//
//   node test/bench/flamegraph.mjs IN.cpuprofile OUT.svg [--title "..."] [--min-pct 0.2]
//
// Root at the bottom, width proportional to sampled time. Identical sibling frames (same
// function, url, line) are merged; frames narrower than --min-pct % of the busy total are
// dropped with their callees. The (idle) node is left out of the total and the picture (its
// share is in the header); (program) and (garbage collector) stay. Also prints the top 25
// functions by self time on stdout. Plain Node, no dependencies.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { URL } from 'node:url';

const USAGE = 'usage: node test/bench/flamegraph.mjs IN.cpuprofile OUT.svg [--title "..."] [--min-pct 0.2]';

function parseArgs(argv) {
  const opts = { title: '', minPct: 0.2, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--title') opts.title = argv[++i] ?? '';
    else if (a.startsWith('--title=')) opts.title = a.slice('--title='.length);
    else if (a === '--min-pct') opts.minPct = Number(argv[++i]);
    else if (a.startsWith('--min-pct=')) opts.minPct = Number(a.slice('--min-pct='.length));
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else opts.files.push(a);
  }
  if (opts.files.length !== 2 || !Number.isFinite(opts.minPct) || opts.minPct < 0) {
    console.error(USAGE);
    process.exit(2);
  }
  return opts;
}

// ---- profile -> per-node self time -------------------------------------------------------------

/** Self time (µs) per node id. Sample i lasts until the next sample (timeDeltas[i + 1]), as DevTools counts it. */
function selfTimes(profile, nodesById) {
  const self = new Map();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    let sum = 0;
    for (const d of deltas) sum += Math.max(0, d);
    const mean = samples.length > 1 ? sum / samples.length : 0;
    for (let i = 0; i < samples.length; i++) {
      let dt = i + 1 < deltas.length ? deltas[i + 1] : mean;
      if (!(dt > 0)) dt = 0;
      self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
    }
  } else {
    // No sample list: fall back to hitCount spread evenly over the profile's duration.
    let hits = 0;
    for (const n of nodesById.values()) hits += n.hitCount ?? 0;
    const span = (profile.endTime ?? 0) - (profile.startTime ?? 0);
    const per = hits > 0 && span > 0 ? span / hits : 1000;
    for (const n of nodesById.values()) if (n.hitCount) self.set(n.id, n.hitCount * per);
  }
  return self;
}

function sampleCounts(profile, nodesById) {
  const counts = new Map();
  if (profile.samples?.length) {
    for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  } else {
    for (const n of nodesById.values()) if (n.hitCount) counts.set(n.id, n.hitCount);
  }
  return counts;
}

// ---- frame naming ------------------------------------------------------------------------------

const frameKey = (cf) => `${cf.functionName}\u0000${cf.url}\u0000${cf.lineNumber}`;
const fnName = (cf) => cf.functionName || '(anonymous)';
/** V8 line numbers are 0-based; people read 1-based. */
const lineOf = (cf) => (cf.lineNumber >= 0 ? cf.lineNumber + 1 : 0);

function shortFile(url) {
  if (!url) return '';
  if (url.startsWith('node:')) return url;
  let path = url;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    // not a URL: a plain path
  }
  return basename(path) || url;
}

/** `functionName file:line` with the file's basename. */
function shortLabel(cf) {
  const file = shortFile(cf.url);
  const line = lineOf(cf);
  return file ? `${fnName(cf)} ${file}${line ? `:${line}` : ''}` : fnName(cf);
}

/** Function name with the full url, line and column. */
function fullLabel(cf) {
  if (!cf.url) return fnName(cf);
  const line = lineOf(cf);
  const col = cf.columnNumber >= 0 ? cf.columnNumber + 1 : 0;
  return `${fnName(cf)} ${cf.url}${line ? `:${line}${col ? `:${col}` : ''}` : ''}`;
}

function category(cf) {
  const url = cf.url ?? '';
  if (url === '' || url.startsWith('node:')) return 'node';
  if (url.includes('/node_modules/')) return 'deps';
  if (url.includes('/dist/')) return 'own';
  return 'other';
}

// ---- merged tree ---------------------------------------------------------------------------------

/** Merges identical sibling frames; leaves out the (idle) subtree. Returns the merged root. */
function mergeTree(rootNode, nodesById, self, counts) {
  const mk = (cf) => ({ cf, self: 0, total: 0, samples: 0, children: new Map() });
  const root = mk(rootNode.callFrame);
  // Iterative walk: deep recursion in a profile must not blow our own stack.
  const stack = [[rootNode, root]];
  while (stack.length) {
    const [node, merged] = stack.pop();
    merged.self += self.get(node.id) ?? 0;
    merged.samples += counts.get(node.id) ?? 0;
    for (const cid of node.children ?? []) {
      const child = nodesById.get(cid);
      if (!child || child.callFrame.functionName === '(idle)') continue;
      const key = frameKey(child.callFrame);
      let m = merged.children.get(key);
      if (!m) merged.children.set(key, (m = mk(child.callFrame)));
      stack.push([child, m]);
    }
  }
  // Totals, post-order.
  const order = [];
  const walk = [root];
  while (walk.length) {
    const m = walk.pop();
    order.push(m);
    for (const c of m.children.values()) walk.push(c);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const m = order[i];
    m.total = m.self;
    for (const c of m.children.values()) m.total += c.total;
  }
  return root;
}

// ---- colours -----------------------------------------------------------------------------------

function hash(s) {
  // FNV-1a, 32 bit.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function colour(cf) {
  const h = hash(fnName(cf));
  const r1 = (h & 0xff) / 255;
  const r2 = ((h >>> 8) & 0xff) / 255;
  const r3 = ((h >>> 16) & 0xff) / 255;
  let hue, sat, light;
  switch (category(cf)) {
    case 'own': // the project's code: warm, red .. yellow
      hue = 0 + 55 * r1;
      sat = 75 + 20 * r2;
      light = 55 + 12 * r3;
      break;
    case 'deps': // node_modules: aqua / green
      hue = 150 + 40 * r1;
      sat = 45 + 20 * r2;
      light = 55 + 12 * r3;
      break;
    case 'node': // Node internals, V8 pseudo frames: greyish with a faint warm tint
      hue = 20 + 30 * r1;
      sat = 5 + 12 * r2;
      light = 68 + 14 * r3;
      break;
    default: // other scripts (tests, tools): violet
      hue = 265 + 35 * r1;
      sat = 40 + 20 * r2;
      light = 65 + 10 * r3;
  }
  return `hsl(${hue.toFixed(0)},${sat.toFixed(0)}%,${light.toFixed(0)}%)`;
}

// ---- SVG -----------------------------------------------------------------------------------------

const escapeXml = (s) =>
  xmlSafe(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/** Characters XML 1.0 forbids (control codes, U+FFFE/U+FFFF, lone surrogates) cannot appear even escaped. */
function xmlSafe(s) {
  let out = '';
  for (const ch of String(s)) {
    const c = ch.codePointAt(0);
    const bad = (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffe || c === 0xffff || (c >= 0xd800 && c <= 0xdfff);
    out += bad ? '\ufffd' : ch;
  }
  return out;
}

const WIDTH = 1200;
const PAD = 10;
const FRAME_H = 16;
const FONT = 12;
const CHAR_W = FONT * 0.59; // average glyph width of a 12px sans/mono font, as flamegraph.pl estimates
const HEADER_H = 44;
const ms = (us) => us / 1000;
const fmtMs = (us) => ms(us).toFixed(ms(us) >= 100 ? 0 : ms(us) >= 10 ? 1 : 2);

function fitText(label, width) {
  const room = Math.floor((width - 6) / CHAR_W);
  if (room < 3) return '';
  if (label.length <= room) return label;
  return `${label.slice(0, room - 2)}..`;
}

function renderSvg(root, { title, busyUs, busySamples, idleUs, idleSamples, minPct }) {
  const graphW = WIDTH - 2 * PAD;
  const minUs = (busyUs * minPct) / 100;
  // Lay out the kept frames: [frame, depth, x].
  const frames = [];
  let maxDepth = 0;
  const stack = [[root, 0, PAD]];
  while (stack.length) {
    const [m, depth, x] = stack.pop();
    frames.push([m, depth, x]);
    if (depth > maxDepth) maxDepth = depth;
    // Heaviest callee first, left to right.
    const kids = [...m.children.values()].filter((c) => c.total > 0 && c.total >= minUs).sort((a, b) => b.total - a.total);
    let cx = x;
    const placed = [];
    for (const c of kids) {
      placed.push([c, depth + 1, cx]);
      cx += (c.total / busyUs) * graphW;
    }
    for (let i = placed.length - 1; i >= 0; i--) stack.push(placed[i]);
  }

  const height = HEADER_H + (maxDepth + 1) * FRAME_H + PAD + 16;
  const bottom = height - PAD - 16; // y of the bottom edge of the root frame
  const idlePct = busyUs + idleUs > 0 ? (100 * idleUs) / (busyUs + idleUs) : 0;
  const head = title || 'CPU profile';
  const sub =
    `busy ${fmtMs(busyUs)} ms in ${busySamples} samples; idle ${fmtMs(idleUs)} ms` +
    ` (${idlePct.toFixed(1)}% of ${fmtMs(busyUs + idleUs)} ms, ${idleSamples} samples, not drawn);` +
    ` frames under ${minPct}% of busy time dropped`;

  const out = [];
  out.push('<?xml version="1.0" encoding="UTF-8" standalone="no"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${WIDTH}" height="${height}" ` +
      `viewBox="0 0 ${WIDTH} ${height}" font-family="Verdana, DejaVu Sans, sans-serif" font-size="${FONT}">`,
  );
  out.push(`<title>${escapeXml(head)}</title>`);
  out.push(
    '<style>g.f:hover rect { stroke: #000; stroke-width: 0.7; } g.f text { fill: #000; pointer-events: none; } ' +
      '.hd { font-size: 15px; font-weight: bold; } .sub { font-size: 11px; fill: #333; } .leg { font-size: 11px; fill: #333; }</style>',
  );
  out.push(`<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#fdfaf4"/>`);
  out.push(`<text class="hd" x="${WIDTH / 2}" y="20" text-anchor="middle">${escapeXml(head)}</text>`);
  out.push(`<text class="sub" x="${WIDTH / 2}" y="36" text-anchor="middle">${escapeXml(sub)}</text>`);
  const legend = [
    ['hsl(25,85%,60%)', 'project (dist/)'],
    ['hsl(170,55%,60%)', 'node_modules'],
    ['hsl(35,10%,75%)', 'Node / V8 internals'],
    ['hsl(280,50%,70%)', 'other'],
  ];
  let lx = PAD;
  for (const [fill, text] of legend) {
    out.push(`<rect x="${lx}" y="${height - 13}" width="10" height="10" fill="${fill}"/>`);
    out.push(`<text class="leg" x="${lx + 14}" y="${height - 4}">${escapeXml(text)}</text>`);
    lx += 24 + text.length * 7;
  }

  for (const [m, depth, x] of frames) {
    const w = (m.total / busyUs) * graphW;
    const y = bottom - (depth + 1) * FRAME_H;
    const isRoot = m === root;
    const label = isRoot ? 'all (busy)' : shortLabel(m.cf);
    const full = isRoot ? 'all (busy time, idle excluded)' : fullLabel(m.cf);
    const pct = (100 * m.total) / busyUs;
    const tip = `${full}\n${fmtMs(m.total)} ms, ${pct.toFixed(2)}% of busy (self ${fmtMs(m.self)} ms, ${((100 * m.self) / busyUs).toFixed(2)}%)`;
    const fill = isRoot ? 'hsl(0,0%,82%)' : colour(m.cf);
    const xs = x.toFixed(2);
    const ws = Math.max(w, 0.1).toFixed(2);
    const text = fitText(label, w);
    out.push(`<g class="f"><title>${escapeXml(tip)}</title>`);
    if (text) {
      // A nested <svg> clips its content to its box, so the label never spills out of the frame.
      out.push(
        `<svg x="${xs}" y="${y}" width="${ws}" height="${FRAME_H - 1}">` +
          `<rect width="100%" height="100%" rx="2" fill="${fill}"/>` +
          `<text x="3" y="${FRAME_H - 4.5}">${escapeXml(text)}</text></svg></g>`,
      );
    } else {
      out.push(`<rect x="${xs}" y="${y}" width="${ws}" height="${FRAME_H - 1}" rx="1" fill="${fill}"/></g>`);
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---- top self time -----------------------------------------------------------------------------

function topSelf(nodesById, self, busyUs, n = 25) {
  const byFn = new Map();
  for (const node of nodesById.values()) {
    const cf = node.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(root)') continue;
    const us = self.get(node.id) ?? 0;
    if (us <= 0) continue;
    const key = frameKey(cf);
    const e = byFn.get(key);
    if (e) e.us += us;
    else byFn.set(key, { label: shortLabel(cf), us });
  }
  const rows = [...byFn.values()].sort((a, b) => b.us - a.us).slice(0, n);
  const wl = Math.min(80, Math.max(20, ...rows.map((r) => r.label.length)));
  const lines = [];
  lines.push(`top ${n} self time (busy ${fmtMs(busyUs)} ms)`);
  lines.push(`${'function file:line'.padEnd(wl)}  ${'self ms'.padStart(9)}  ${'%'.padStart(6)}`);
  for (const r of rows) {
    const label = r.label.length > wl ? `${r.label.slice(0, wl - 2)}..` : r.label;
    const pct = busyUs > 0 ? (100 * r.us) / busyUs : 0;
    lines.push(`${label.padEnd(wl)}  ${ms(r.us).toFixed(1).padStart(9)}  ${pct.toFixed(1).padStart(6)}`);
  }
  return lines.join('\n');
}

// ---- main ----------------------------------------------------------------------------------------

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [inFile, outFile] = opts.files;
  const profile = JSON.parse(readFileSync(inFile, 'utf8'));
  if (!Array.isArray(profile.nodes) || profile.nodes.length === 0) throw new Error(`${inFile}: no nodes (not a V8 CPU profile?)`);

  const nodesById = new Map();
  for (const n of profile.nodes) {
    n.callFrame = { functionName: '', url: '', lineNumber: -1, columnNumber: -1, ...n.callFrame };
    nodesById.set(n.id, n);
  }
  // Older profiles give each node its parent instead of its children.
  if (!profile.nodes.some((n) => n.children?.length)) {
    for (const n of profile.nodes) {
      if (n.parent !== undefined) {
        const p = nodesById.get(n.parent);
        if (p) (p.children ??= []).push(n.id);
      }
    }
  }
  const childIds = new Set();
  for (const n of profile.nodes) for (const c of n.children ?? []) childIds.add(c);
  const rootNode = profile.nodes.find((n) => !childIds.has(n.id)) ?? profile.nodes[0];

  const self = selfTimes(profile, nodesById);
  const counts = sampleCounts(profile, nodesById);
  let idleUs = 0;
  let idleSamples = 0;
  let busyUs = 0;
  let busySamples = 0;
  for (const n of profile.nodes) {
    const us = self.get(n.id) ?? 0;
    const c = counts.get(n.id) ?? 0;
    if (n.callFrame.functionName === '(idle)') {
      idleUs += us;
      idleSamples += c;
    } else {
      busyUs += us;
      busySamples += c;
    }
  }

  const root = mergeTree(rootNode, nodesById, self, counts);
  if (busyUs <= 0) {
    console.error(`${inFile}: no busy samples; writing an empty graph`);
    busyUs = 1;
  }
  const svg = renderSvg(root, { title: opts.title || basename(inFile), busyUs, busySamples, idleUs, idleSamples, minPct: opts.minPct });
  writeFileSync(outFile, svg);
  console.log(topSelf(nodesById, self, busyUs));
}

main();
