/**
 * A child process for the config-file crash test: opens the config file given (with the built
 * dist/), then commits `count` changes one after another, the target alias of commit i being
 * `n<i>`, and prints `<i> <revision>` once commit i has returned (so the line means "durable").
 * Usage: node test/helpers/config-commits.mjs <config path> <count>
 */
/* global structuredClone */
import { ConfigFile } from '../../dist/config/config-file.js';

const [path, countText] = process.argv.slice(2);
const file = await ConfigFile.open(path);
for (let i = 1; i <= Number(countText); i++) {
  const next = structuredClone(file.current);
  next.targets[0].alias = `n${i}`;
  const { revision } = await file.commit(next);
  // Writes to a pipe are synchronous on Linux: a printed line is in the pipe before the next commit.
  process.stdout.write(`${i} ${revision}\n`);
}
