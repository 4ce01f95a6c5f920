/** `npx vite-node test/e2e/vm/build-cli.ts`: builds (or finds) the cached VM and prints its paths. */
import { ensureVm } from './build.js';

console.log(JSON.stringify(ensureVm(), null, 2));
