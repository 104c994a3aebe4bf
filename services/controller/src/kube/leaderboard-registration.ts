/**
 * The leaderboard stores results only of Sweeps registered with it: the controller registers
 * each Sweep generation over gRPC, with the write token, before its first Job.
 */
import * as grpc from '@grpc/grpc-js';
import { canonicalJson, type SweepResource } from '@masksweep/api';
import { createLeaderboardClient } from '@masksweep/proto';

export interface SweepRegistrar {
  register(sweep: SweepResource, trialCount: number): Promise<void>;
  close(): void;
}

/** @param address host:port of the leaderboard's gRPC server */
export function leaderboardRegistrar(
  address: string,
  token: string | undefined,
  credentials?: grpc.ChannelCredentials,
): SweepRegistrar {
  const client = createLeaderboardClient(address, credentials);
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return {
    async register(sweep, trialCount) {
      await client.registerSweep(
        {
          namespace: sweep.metadata.namespace ?? 'default',
          sweep: sweep.metadata.name,
          specJson: canonicalJson(sweep),
          trialCount,
        },
        { metadata, deadline: Date.now() + 10_000 },
      );
    },
    close: () => client.close(),
  };
}
