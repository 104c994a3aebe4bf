/** `masksweep-leaderboard`: the leaderboard as a service, configured by the environment. */
import { createLogger, logTo } from '@masksweep/log';
import { ConfigError, leaderboardConfig } from './config.js';
import { startLeaderboard } from './leaderboard.js';

const log = logTo(createLogger());

export async function main(): Promise<number> {
  let options: ReturnType<typeof leaderboardConfig>;
  try {
    options = leaderboardConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`masksweep-leaderboard: ${error.message}\n`);
    return 2;
  }
  const leaderboard = await startLeaderboard({ ...options, log });
  log('info', 'leaderboard started', {
    grpcPort: leaderboard.grpcPort,
    web: leaderboard.webUrl,
    database: options.database,
    nats: options.natsUrl ?? null,
  });
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  await leaderboard.close();
  log('info', 'leaderboard stopped');
  return 0;
}
