/**
 * SQL metacharacters in every name and value that reaches a query, over a real gRPC port and
 * the web view's JSON API: each is stored and read back byte for byte, a filter matches
 * only its own row (quotes, LIKE wildcards and comments are text), nothing answers INTERNAL,
 * and the other sweep's rows stay where they were.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  createLeaderboardClient,
  type LeaderboardClient,
  type MessageInit,
  type TrialResult,
} from '@masksweep/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Leaderboard, startLeaderboard } from '../leaderboard.js';
import { resultFixture as storeFixture } from '../store/fixtures.test-support.js';

const TOKEN = 'c3'.repeat(32);
// Quotes, comments, statement ends, LIKE wildcards and escapes, parameter markers, JSON
// path syntax, a NUL, and text SQLite would compare differently if it were not bound.
const HOSTILE = [
  "' OR '1'='1",
  '"; DROP TABLE results; --',
  "x'); DELETE FROM sweeps; --",
  '%',
  '_',
  '\\',
  '%_\\%',
  '? :name @p $1',
  '$.mask.type',
  '*/ /* --',
  'a\u0000b',
  '1 UNION SELECT * FROM sqlite_master --',
  'ﬁ ü Ω 🙂',
];
const NAMESPACE = 'ns\'"`;--';
const SWEEP = "sweep'); DROP TABLE results; --";

const resultFixture = (fixture: Parameters<typeof storeFixture>[0]) =>
  storeFixture({ namespace: NAMESPACE, sweep: SWEEP, ...fixture }) as MessageInit<TrialResult>;

let dir: string;
let leaderboard: Leaderboard;
let client: LeaderboardClient;
const writer = () => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  return { metadata };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-sql-'));
  leaderboard = await startLeaderboard({ database: join(dir, 'lb.db'), token: TOKEN });
  client = createLeaderboardClient(`127.0.0.1:${leaderboard.grpcPort}`);
  // A bystander: nothing below may list, change or drop its row.
  await client.registerSweep(
    { namespace: 'default', sweep: 'bystander', specJson: '{}', trialCount: 1 },
    writer(),
  );
  await client.reportResult(
    {
      result: storeFixture({
        sweep: 'bystander',
        trial: 'bystander-0',
      }) as MessageInit<TrialResult>,
    },
    writer(),
  );
  await client.registerSweep(
    { namespace: NAMESPACE, sweep: SWEEP, specJson: '{"note": "\' OR 1=1 --"}', trialCount: 20 },
    writer(),
  );
  // One result per hostile string: as its trial name and as its augmentation (a config value
  // filters compare); the seed tells the configs apart where the augmentation would not.
  for (const [seed, text] of HOSTILE.entries()) {
    const stored = await client.reportResult(
      { result: resultFixture({ trial: text, augmentation: text, seed }) },
      writer(),
    );
    expect(stored.stored, text).toBe(true);
  }
});

afterAll(async () => {
  client?.close();
  await leaderboard?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function allTrials(configFilter: Record<string, string> = {}) {
  const { results } = await client.listResults({
    namespace: NAMESPACE,
    sweep: SWEEP,
    configFilter,
    sortBy: 'trial',
    ascending: true,
    pageSize: 1000,
  });
  return results.map((r) => r.trial);
}

describe('SQL metacharacters in names and values', () => {
  it('stores every hostile name and reads it back verbatim', async () => {
    expect(await allTrials()).toEqual([...HOSTILE].sort());
    const { results } = await client.listResults({
      namespace: NAMESPACE,
      sweep: SWEEP,
      pageSize: 1000,
    });
    for (const result of results) {
      expect(result.namespace).toBe(NAMESPACE);
      expect(result.sweep).toBe(SWEEP);
      expect(result.config?.augmentation).toBe(result.trial);
      expect(JSON.parse(result.config?.configJson ?? '{}').augmentation.type).toBe(result.trial);
    }
    const sweeps = leaderboard.store.listSweeps().map((s) => [s.namespace, s.sweep]);
    expect(sweeps).toContainEqual([NAMESPACE, SWEEP]);
  });

  it.each(HOSTILE)('filters on %j and gets its own row only', async (text) => {
    expect(await allTrials({ 'augmentation.type': text })).toEqual([text]);
  });

  it('matches no row for a filter value no result has, however it is quoted', async () => {
    for (const value of ["' OR 1=1 --", '%%', "%' OR '%'='", '*']) {
      expect(await allTrials({ 'augmentation.type': value }), value).toEqual([]);
    }
  });

  it('refuses metacharacters where a name becomes SQL: filter paths and sort_by', async () => {
    const refused = async (request: Parameters<LeaderboardClient['listResults']>[0]) =>
      client.listResults(request).then(
        () => 'accepted',
        (error: grpc.ServiceError) => [error.code, error.metadata.get('field')[0]],
      );
    expect(
      await refused({ namespace: NAMESPACE, configFilter: { "mask.type') OR 1=1 --": 'x' } }),
    ).toEqual([grpc.status.INVALID_ARGUMENT, "config_filter.mask.type') OR 1=1 --"]);
    expect(await refused({ namespace: NAMESPACE, configFilter: { "$.mask'": 'x' } })).toEqual([
      grpc.status.INVALID_ARGUMENT,
      "config_filter.$.mask'",
    ]);
    expect(await refused({ namespace: NAMESPACE, sortBy: 'f1; DROP TABLE results' })).toEqual([
      grpc.status.INVALID_ARGUMENT,
      'sort_by',
    ]);
  });

  it('summarises and watches a sweep by its hostile name, and answers NOT_FOUND for a hostile config key', async () => {
    const summary = await client.getSweepSummary({ namespace: NAMESPACE, sweep: SWEEP });
    expect(summary.resultCount).toBe(HOSTILE.length);
    const compare = await client
      .compareConfigs({
        namespace: NAMESPACE,
        sweep: SWEEP,
        configKeyA: "' OR '1'='1",
        configKeyB: '"; DROP TABLE results; --',
      })
      .then(
        () => 'accepted',
        (error: grpc.ServiceError) => [error.code, error.metadata.get('field')[0]],
      );
    expect(compare).toEqual([grpc.status.NOT_FOUND, 'config_key_a']);
  });

  it('serves the same through the JSON API, with the names percent-encoded in the path', async () => {
    const path = `/api/sweeps/${encodeURIComponent(NAMESPACE)}/${encodeURIComponent(SWEEP)}/results`;
    for (const text of HOSTILE) {
      const query = new URLSearchParams({ 'filter.augmentation.type': text, sort_by: 'trial' });
      const response = await fetch(`${leaderboard.webUrl}${path}?${query}`);
      expect(response.status, text).toBe(200);
      const body = (await response.json()) as { results: Array<{ trial: string }> };
      expect(body.results.map((r) => r.trial)).toEqual([text]);
      const trial = await fetch(
        `${leaderboard.webUrl}/api/trials/${encodeURIComponent(NAMESPACE)}/${encodeURIComponent(text)}`,
      );
      expect(trial.status, text).toBe(200);
      expect(((await trial.json()) as { trial: string }).trial).toBe(text);
    }
  });

  it('leaves the other sweep as it was', async () => {
    const { results } = await client.listResults({ namespace: 'default', sweep: 'bystander' });
    expect(results.map((r) => r.trial)).toEqual(['bystander-0']);
    expect(leaderboard.store.listSweeps()).toHaveLength(2);
  });
});
