/** The leaderboard service's settings, read from the environment in this one place. */
import { readFileSync } from 'node:fs';
import { busCredentialsFromEnv } from '@masksweep/bus';
import type { LeaderboardOptions } from './leaderboard.js';
import { writeTokenProblem } from './token.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** `masksweep-leaderboard --help`: the variables {@link leaderboardConfig} reads. */
export const LEADERBOARD_USAGE = `Usage: masksweep-leaderboard

The leaderboard service: gRPC, the web view and the NATS ingest of live metrics.
It takes no arguments; the environment configures it:

  MASKSWEEP_LEADERBOARD_TOKEN       the write token, 32 random bytes at least
                                    (openssl rand -hex 32); required, or
  MASKSWEEP_LEADERBOARD_TOKEN_FILE  a file holding it
  MASKSWEEP_LEADERBOARD_DB          the SQLite file (default /data/leaderboard.db)
  MASKSWEEP_LEADERBOARD_GRPC        gRPC host:port (default 0.0.0.0:50051)
  MASKSWEEP_LEADERBOARD_HTTP_PORT   web view port (default 8080)
  MASKSWEEP_LEADERBOARD_HTTP_HOST   web view host (default 0.0.0.0)
  MASKSWEEP_LEADERBOARD_TLS_CERT    gRPC TLS: PEM files, both or neither
  MASKSWEEP_LEADERBOARD_TLS_KEY
  MASKSWEEP_NATS_URL                NATS to ingest live metrics from (waits for it at start-up)
  MASKSWEEP_NATS_CREDS              its credentials file (a reader's), or
  MASKSWEEP_NATS_USER               a user and password; anonymous without
  MASKSWEEP_NATS_PASSWORD
  MASKSWEEP_ARTIFACTS               the folder of trial artifacts the web view serves
  MASKSWEEP_LEADERBOARD_STATISTICS_THREADS  worker threads of the bootstraps (default
                                    the cores less one, at least 1)
  MASKSWEEP_LEADERBOARD_STATISTICS_PENDING  statistics requests running or waiting at once;
                                    more are refused, RESOURCE_EXHAUSTED or 429 (default
                                    4 per thread, at least 8)
`;

/** The service's options from the environment ({@link LEADERBOARD_USAGE} lists the variables). */
export function leaderboardConfig(env: NodeJS.ProcessEnv): LeaderboardOptions {
  const read = (name: string) => {
    const file = env[name];
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${file}: ${(error as Error).message}`);
    }
  };
  const tokenSource =
    env.MASKSWEEP_LEADERBOARD_TOKEN !== undefined
      ? 'MASKSWEEP_LEADERBOARD_TOKEN'
      : 'MASKSWEEP_LEADERBOARD_TOKEN_FILE';
  const token =
    env.MASKSWEEP_LEADERBOARD_TOKEN ?? read('MASKSWEEP_LEADERBOARD_TOKEN_FILE')?.toString().trim();
  if (!token)
    throw new ConfigError(
      'MASKSWEEP_LEADERBOARD_TOKEN (or MASKSWEEP_LEADERBOARD_TOKEN_FILE): the write token is required',
    );
  const weakness = writeTokenProblem(token);
  if (weakness) throw new ConfigError(`${tokenSource}: ${weakness}`);
  const cert = read('MASKSWEEP_LEADERBOARD_TLS_CERT');
  const key = read('MASKSWEEP_LEADERBOARD_TLS_KEY');
  if (Boolean(cert) !== Boolean(key))
    throw new ConfigError(
      'MASKSWEEP_LEADERBOARD_TLS_CERT and MASKSWEEP_LEADERBOARD_TLS_KEY: give both or neither',
    );
  const httpPort = Number(env.MASKSWEEP_LEADERBOARD_HTTP_PORT ?? 8080);
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535)
    throw new ConfigError(
      `MASKSWEEP_LEADERBOARD_HTTP_PORT: must be a port number, got ${env.MASKSWEEP_LEADERBOARD_HTTP_PORT}`,
    );
  return {
    database: env.MASKSWEEP_LEADERBOARD_DB ?? '/data/leaderboard.db',
    token,
    grpcAddress: env.MASKSWEEP_LEADERBOARD_GRPC ?? '0.0.0.0:50051',
    httpPort,
    httpHost: env.MASKSWEEP_LEADERBOARD_HTTP_HOST ?? '0.0.0.0',
    tls: cert && key ? { cert, key } : undefined,
    natsUrl: env.MASKSWEEP_NATS_URL,
    natsCredentials: busCredentialsFromEnv(env),
    artifactsDir: env.MASKSWEEP_ARTIFACTS,
    statistics: {
      threads: positiveInteger(env, 'MASKSWEEP_LEADERBOARD_STATISTICS_THREADS'),
      maxPending: positiveInteger(env, 'MASKSWEEP_LEADERBOARD_STATISTICS_PENDING'),
    },
  };
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1)
    throw new ConfigError(
      `${name}: must be a whole number of 1 or more, got ${JSON.stringify(text)}`,
    );
  return value;
}
