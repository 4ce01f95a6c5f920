#!/usr/bin/env node
import { run } from './program.js';

// Small Data-In buffers and BHSs come from Node's shared slab: a bigger slab serves
// 4-32 KiB reads without a separate allocation each (fewer mallocs, less GC work).
Buffer.poolSize = 128 * 1024;

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`scatter: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
