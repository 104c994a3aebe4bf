import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Every test file of the tree; the projects below split it in two. */
const everyTest = [
  'packages/*/src/**/*.test.ts',
  'services/*/src/**/*.test.ts',
  'test/**/*.test.ts',
  'bench/**/*.test.ts',
];

/**
 * The integration suites: those that start real servers (nats-server, kube-apiserver + etcd,
 * Chromium), named `*.int.test.ts`, and the unit files that train networks for tens of
 * seconds or run Optuna, which `npm run test:unit` leaves out to stay quick.
 */
const integrationTests = [
  ...everyTest.map((pattern) => pattern.replace(/\.test\.ts$/, '.int.test.ts')),
  'packages/train/src/pretrain.test.ts',
  'packages/train/src/finetune.test.ts',
  'packages/train/src/trial.test.ts',
  'packages/train/src/simclr/pretrain.test.ts',
  'packages/train/src/mff/pretrain.test.ts',
  'packages/models/src/convnext/networks.test.ts',
  'packages/models/src/vit/networks.test.ts',
  'packages/models/src/resnet/resnet.test.ts',
  'packages/tuner/src/pruners.test.ts',
];

export default defineConfig({
  resolve: {
    // Tests run on the packages' sources, not on their build output.
    alias: [
      // Services are not packages/: the CLI uses the leaderboard and the controller.
      {
        find: /^@masksweep\/(leaderboard|controller)$/,
        replacement: `${root}services/$1/src/index.ts`,
      },
      // What tests and benches share, never built (each package's `test-support` export).
      {
        find: /^@masksweep\/api\/test-support$/,
        replacement: `${root}packages/api/src/sweep.test-support.ts`,
      },
      {
        find: /^@masksweep\/bus\/test-support$/,
        replacement: `${root}packages/bus/src/nats-auth.test-support.ts`,
      },
      {
        find: /^@masksweep\/backend\/test-support$/,
        replacement: `${root}packages/backend/src/wasm.test-support.ts`,
      },
      { find: /^@masksweep\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    // Training and real-server suites share 2 cores: a timeout says "hung", not "slow".
    testTimeout: 120_000,
    // `vitest run` runs both; `--project unit` (npm run test:unit) is the quick loop.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: everyTest,
          exclude: [...configDefaults.exclude, ...integrationTests],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: integrationTests,
        },
      },
    ],
  },
});
