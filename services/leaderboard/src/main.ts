/** `masksweep-leaderboard`: the leaderboard as a service, configured by the environment. */
import { format } from 'node:util';
import { setLogger as setGrpcLogger } from '@grpc/grpc-js';
import { createLogger, logTo } from '@masksweep/log';
import { ConfigError, LEADERBOARD_USAGE, leaderboardConfig } from './config.js';
import { type Leaderboard, startLeaderboard } from './leaderboard.js';

const log = logTo(createLogger());

// grpc-js writes its own errors to stderr as bare lines ("E No address added ..."): they go
// to the service's log, so that stderr holds only the one line of a start-up failure.
setGrpcLogger({ error: (...parts: unknown[]) => log('warn', `grpc: ${format(...parts)}`) });

export async function main(argv = process.argv.slice(2)): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(LEADERBOARD_USAGE);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(
      `masksweep-leaderboard: unknown argument '${argv[0]}'; the environment configures it (see --help)\n`,
    );
    return 2;
  }
  let options: ReturnType<typeof leaderboardConfig>;
  try {
    options = leaderboardConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`masksweep-leaderboard: ${error.message}\n`);
    return 2;
  }
  let leaderboard: Leaderboard;
  try {
    leaderboard = await startLeaderboard({ ...options, log });
  } catch (error) {
    // A port in use, a database it cannot open, a NATS URL it cannot use: the cause, once.
    process.stderr.write(`masksweep-leaderboard: cannot start: ${(error as Error).message}\n`);
    return 1;
  }
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
