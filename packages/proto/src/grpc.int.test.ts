import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthCheckResponse_ServingStatus } from './generated/grpc-health-v1.js';
import type { TrialResult } from './generated/masksweep-v1.js';
import {
  createHealthClient,
  createLeaderboardClient,
  type HealthClient,
  type HealthServer,
  HealthService,
  type LeaderboardClient,
  type LeaderboardServer,
  LeaderboardService,
} from './grpc.js';

const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<never>) =>
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' }, null);

/** A Leaderboard that stores results in memory and streams them to watchers. */
function memoryLeaderboard(): LeaderboardServer {
  const stored: TrialResult[] = [];
  return {
    registerSweep: (call, callback) =>
      callback(null, {
        created: call.request.sweep === 'paper' && call.request.trialCount === 480,
      }),
    reportResult: (call, callback) => {
      const result = call.request.result;
      if (!result) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'result: required' }, null);
        return;
      }
      const token = call.metadata.get('authorization')[0];
      if (token !== 'Bearer s3cret') {
        callback({ code: grpc.status.UNAUTHENTICATED, details: 'authorization: bad token' }, null);
        return;
      }
      stored.push({ ...result, sequence: stored.length + 1 });
      callback(null, { stored: true });
    },
    listResults: unimplemented,
    getSweepSummary: unimplemented,
    compareConfigs: unimplemented,
    watchResults: (call) => {
      for (const result of stored) {
        if (result.sequence > call.request.sinceSequence) call.write(result);
      }
      call.end();
    },
  };
}

const health: HealthServer = {
  check: (call, callback) =>
    call.request.service === 'masksweep.v1.Leaderboard'
      ? callback(null, { status: HealthCheckResponse_ServingStatus.SERVING })
      : callback({ code: grpc.status.NOT_FOUND, details: `service ${call.request.service}` }, null),
  watch: (call) => {
    call.write({ status: HealthCheckResponse_ServingStatus.SERVING });
    call.write({ status: HealthCheckResponse_ServingStatus.NOT_SERVING });
    call.end();
  },
};

describe('gRPC services over a real grpc-js server', () => {
  const server = new grpc.Server();
  let leaderboard: LeaderboardClient;
  let healthClient: HealthClient;

  beforeAll(async () => {
    server.addService(LeaderboardService, memoryLeaderboard());
    server.addService(HealthService, health);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    expect(port).toBeGreaterThan(0);
    leaderboard = createLeaderboardClient(`127.0.0.1:${port}`);
    healthClient = createHealthClient(`127.0.0.1:${port}`);
  });

  afterAll(() => {
    leaderboard?.close();
    healthClient?.close();
    server.forceShutdown();
  });

  it('answers unary calls with decoded, defaulted responses', async () => {
    expect(await leaderboard.registerSweep({ sweep: 'paper', trialCount: 480 })).toEqual({
      created: true,
    });
    expect(await leaderboard.registerSweep({ sweep: 'other' })).toEqual({ created: false });
    expect(await healthClient.check({ service: 'masksweep.v1.Leaderboard' })).toEqual({
      status: HealthCheckResponse_ServingStatus.SERVING,
    });
    await expect(healthClient.check({ service: 'nope' })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });

  it('passes metadata and streams results back with 64-bit sequences and maps intact', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer s3cret');
    await expect(
      leaderboard.reportResult({ result: { trial: 'a' } }, { metadata: new grpc.Metadata() }),
    ).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    for (const trial of ['a', 'b', 'c']) {
      const answer = await leaderboard.reportResult(
        { result: { trial, metrics: { f1: 0.5, auc: Number.NaN }, predictions: [{ label: 1 }] } },
        { metadata },
      );
      expect(answer.stored).toBe(true);
    }
    const received: TrialResult[] = [];
    for await (const result of leaderboard.watchResults({ sinceSequence: 1 })) {
      received.push(result as TrialResult);
    }
    expect(received.map((r) => [r.trial, r.sequence])).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
    expect(received[0]?.metrics.f1).toBe(0.5);
    expect(Number.isNaN(received[0]?.metrics.auc)).toBe(true);
    expect(received[0]?.predictions[0]).toEqual({
      sampleId: '',
      label: 1,
      predicted: 0,
      probabilities: [],
    });
  });

  it('streams health status changes', async () => {
    const statuses: number[] = [];
    for await (const response of healthClient.watch({ service: '' })) {
      statuses.push(response.status);
    }
    expect(statuses).toEqual([
      HealthCheckResponse_ServingStatus.SERVING,
      HealthCheckResponse_ServingStatus.NOT_SERVING,
    ]);
  });

  it('refuses to send an invalid request, naming the field', async () => {
    await expect(leaderboard.registerSweep({ trialCount: -3 })).rejects.toThrow(/trialCount/);
  });
});
