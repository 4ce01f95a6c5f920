import { defineConfig } from 'vitest/config';

// The VM scenarios: run by `npm run test:e2e`, never by `npm test` (the default config only includes *.test.ts).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // One VM at a time: TCG emulation is CPU-bound on a 2-core box.
    fileParallelism: false,
    // A scenario runs a whole guest kernel under software emulation on a shared 2-core box; one rerun
    // absorbs a rare guest-side hiccup (seen: one kernel workqueue warning in ~12 runs). A real
    // regression fails both attempts.
    retry: 1,
    pool: 'forks',
  },
});
