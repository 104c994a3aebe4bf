/**
 * The write token on a real gRPC port, as an attacker would try it: every header that does
 * not carry exactly `Bearer <token>` under `authorization` is refused on both write methods,
 * and nothing it sent is stored. Raw HTTP/2 requests send what grpc-js clients refuse to.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, constants as http2 } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  type MessageInit,
  RegisterSweepRequest,
  ReportResultRequest,
  type TrialResult,
} from '@masksweep/proto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Leaderboard, startLeaderboard } from '../leaderboard.js';
import { resultFixture } from '../store/fixtures.test-support.js';

// Spied on, not replaced: the comparison of a same-length guess must go through it.
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return { ...crypto, timingSafeEqual: vi.fn(crypto.timingSafeEqual) };
});
const { timingSafeEqual } = await import('node:crypto');

// 43 base64 characters: the shortest non-hex token the leaderboard takes.
const TOKEN = 'q7Zk3Vb9Xw2Lp0Rt5Yn8Mc4Hs6Jd1Gf7Ea2Ub9Io3Ke';
let dir: string;
let leaderboard: Leaderboard;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-auth-'));
  leaderboard = await startLeaderboard({ database: join(dir, 'lb.db'), token: TOKEN });
});
afterAll(async () => {
  await leaderboard?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface RawAnswer {
  /** grpc-status, or undefined when the transport refused the request. */
  status: number | undefined;
  message: string;
}

/** One unary call as raw HTTP/2 with exactly these headers (Node refuses a repeated authorization). */
function rawCall(
  method: 'RegisterSweep' | 'ReportResult',
  body: Uint8Array,
  headers: Array<[string, string]>,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const session = connect(`http://127.0.0.1:${leaderboard.grpcPort}`);
    const done = (answer: RawAnswer) => {
      session.close();
      resolve(answer);
    };
    session.on('error', (error) => done({ status: undefined, message: error.message }));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    const object: Record<string, string | string[]> = {
      [http2.HTTP2_HEADER_METHOD]: 'POST',
      [http2.HTTP2_HEADER_PATH]: `/masksweep.v1.Leaderboard/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    for (const [name, value] of headers) {
      const before = object[name];
      object[name] = before === undefined ? value : [before, value].flat();
    }
    let stream: ReturnType<typeof session.request>;
    try {
      stream = session.request(object, { endStream: false });
    } catch (error) {
      done({ status: undefined, message: (error as Error).message });
      return;
    }
    let status: number | undefined;
    let message = '';
    const read = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    stream.on('response', read);
    stream.on('trailers', read);
    stream.on('data', () => {});
    stream.on('error', (error) => done({ status, message: message || error.message }));
    stream.on('close', () => done({ status, message }));
    stream.end(frame);
  });
}

function registerBody(sweep: string) {
  return RegisterSweepRequest.encode({
    namespace: 'default',
    sweep,
    specJson: '{}',
    trialCount: 1,
  });
}
function reportBody(trial: string) {
  return ReportResultRequest.encode({
    // What a trial-runner sends (the store's fixture allows nulls the wire does not).
    result: resultFixture({ sweep: 'guarded', trial }) as MessageInit<TrialResult>,
  });
}

// Each variant carries the token, or a near miss of it, somewhere a careless check might look.
const variants: Array<[string, Array<[string, string]>]> = [
  ['no authorization header', []],
  ['an empty authorization header', [['authorization', '']]],
  ['the token without its scheme', [['authorization', TOKEN]]],
  ['the scheme alone', [['authorization', 'Bearer']]],
  ['another scheme', [['authorization', `Basic ${TOKEN}`]]],
  ['the scheme in lower case', [['authorization', `bearer ${TOKEN}`]]],
  ['two spaces after the scheme', [['authorization', `Bearer  ${TOKEN}`]]],
  ['a prefix of the token', [['authorization', `Bearer ${TOKEN.slice(0, -1)}`]]],
  ['the token and one more character', [['authorization', `Bearer ${TOKEN}x`]]],
  [
    'the token with its last character changed',
    [['authorization', `Bearer ${TOKEN.slice(0, -1)}f`]],
  ],
  ['the token in upper case', [['authorization', `Bearer ${TOKEN.toUpperCase()}`]]],
  // nghttp2 drops a field with white space at either end: these arrive as no header at all.
  ['the token with a trailing tab', [['authorization', `Bearer ${TOKEN}\t`]]],
  ['the token with a trailing newline', [['authorization', `Bearer ${TOKEN}\n`]]],
  ['the token with a NUL after it', [['authorization', `Bearer ${TOKEN}\0`]]],
  ['the token under another key', [['x-authorization', `Bearer ${TOKEN}`]]],
  [
    'the token as a binary header',
    [['authorization-bin', Buffer.from(`Bearer ${TOKEN}`).toString('base64')]],
  ],
];
// nghttp2 resets the stream of a header value with a NUL before grpc-js sees it.
const resetByHttp2 = new Set(['the token with a NUL after it']);

describe('the write token on a real gRPC port', () => {
  it('lets the exact header write, over raw HTTP/2 as over grpc-js', async () => {
    const raw = await rawCall('RegisterSweep', registerBody('guarded'), [
      ['authorization', `Bearer ${TOKEN}`],
    ]);
    expect(raw.status).toBe(grpc.status.OK);
    const report = await rawCall('ReportResult', reportBody('guarded-ok'), [
      ['authorization', `Bearer ${TOKEN}`],
    ]);
    expect(report.status).toBe(grpc.status.OK);
    expect(leaderboard.store.getResult('default', 'guarded-ok')).toBeDefined();
  });

  it.each(variants)(
    'refuses %s on RegisterSweep and ReportResult, storing nothing',
    async (name, headers) => {
      const sweep = `sweep-${name.replaceAll(/\W+/g, '-')}`;
      const trial = `trial-${name.replaceAll(/\W+/g, '-')}`;
      for (const answer of [
        await rawCall('RegisterSweep', registerBody(sweep), headers),
        await rawCall('ReportResult', reportBody(trial), headers),
      ]) {
        if (resetByHttp2.has(name)) {
          expect(answer).toEqual({
            status: undefined,
            message: expect.stringMatching(/PROTOCOL_ERROR/),
          });
        } else {
          expect(answer).toEqual({
            status: grpc.status.UNAUTHENTICATED,
            message: 'authorization: a bearer token is needed for writes',
          });
        }
      }
      expect(leaderboard.store.listSweeps().map((s) => s.sweep)).not.toContain(sweep);
      expect(leaderboard.store.getResult('default', trial)).toBeUndefined();
    },
  );

  it('compares a guess of the right length in constant time', async () => {
    vi.mocked(timingSafeEqual).mockClear();
    const guess = `Bearer ${TOKEN.slice(0, -1)}f`;
    const answer = await rawCall('RegisterSweep', registerBody('timed'), [
      ['authorization', guess],
    ]);
    expect(answer.status).toBe(grpc.status.UNAUTHENTICATED);
    // Not ===, which returns at the first differing byte and so leaks how much of a guess is right.
    expect(vi.mocked(timingSafeEqual).mock.calls.map((call) => call.map(String))).toEqual([
      [guess, `Bearer ${TOKEN}`],
    ]);
  });
});
