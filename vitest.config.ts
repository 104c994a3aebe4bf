import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run on the packages' sources, not on their build output.
    alias: [
      // Services are not packages/: the CLI imports the leaderboard's tables.
      {
        find: /^@masksweep\/leaderboard$/,
        replacement: `${root}services/leaderboard/src/index.ts`,
      },
      { find: /^@masksweep\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'test/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    testTimeout: 30_000,
  },
});
