import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run on the packages' sources, not on their build output.
    alias: [
      // Services are not packages/: the CLI uses the leaderboard and the controller.
      {
        find: /^@masksweep\/(leaderboard|controller)$/,
        replacement: `${root}services/$1/src/index.ts`,
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
    // Training and real-server suites share 2 cores: a timeout says "hung", not "slow".
    testTimeout: 120_000,
  },
});
