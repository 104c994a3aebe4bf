/**
 * Path traversal against the web view as an attacker writes it: every spelling of "..", an
 * absolute path, a backslash, a NUL, an overlong or undecodable name, a symlinked folder.
 * Requests go out as raw bytes on a socket, so nothing on the way normalises them; a file
 * outside the artifact store is never served, and the server goes on answering.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultFixture } from '../store/fixtures.test-support.js';
import { openStore, type Store } from '../store/store.js';
import { findArtifact } from './artifacts.js';
import { createWebServer, type WebServer } from './server.js';

const SECRET = 'the-secret-outside-the-store';
let dir: string;
let artifactsDir: string;
let store: Store;
let server: WebServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-traversal-'));
  store = openStore({ path: join(dir, 'leaderboard.db') });
  store.registerSweep({ namespace: 'default', sweep: 'study', specJson: '{}', trialCount: 1 });
  store.reportResult(resultFixture({ trial: 't1' }));
  artifactsDir = join(dir, 'store', 'artifacts');
  mkdirSync(join(artifactsDir, 't1'), { recursive: true });
  writeFileSync(join(artifactsDir, 't1', 'a.txt'), 'inside');
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'store', 'secret.txt'), SECRET);
  // A folder inside the store that leads outside it.
  symlinkSync(dir, join(artifactsDir, 'outside'));
  server = await createWebServer({ store, port: 0, artifactsDir });
});

afterAll(async () => {
  await server?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends `GET <target>` byte for byte and returns the status and body. */
function rawGet(target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, body: received.slice(received.indexOf('\r\n\r\n') + 4) });
    });
    // Not end(): a client that half-closes has its pending response dropped.
    socket.write(
      Buffer.from(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
        'latin1',
      ),
    );
  });
}

describe('path traversal on the web view', () => {
  it('serves a file inside the store (the control)', async () => {
    expect(await rawGet('/artifacts/t1/a.txt')).toEqual({ status: 200, body: 'inside' });
  });

  it.each([
    { what: '.. in plain', target: '/artifacts/../secret.txt', status: 400 },
    { what: '.. after a folder', target: '/artifacts/t1/../../secret.txt', status: 400 },
    { what: '.. at the end', target: '/artifacts/t1/a.txt/..', status: 400 },
    { what: 'a . segment', target: '/artifacts/./t1/a.txt', status: 400 },
    { what: '.. encoded, upper case', target: '/artifacts/%2E%2E/secret.txt', status: 400 },
    { what: '.. half encoded', target: '/artifacts/.%2e/secret.txt', status: 400 },
    { what: 'an encoded slash', target: '/artifacts/..%2fsecret.txt', status: 400 },
    {
      what: 'an encoded slash, upper case',
      target: '/artifacts/t1%2F..%2F..%2Fsecret.txt',
      status: 400,
    },
    {
      what: 'an empty segment (an absolute path after the prefix)',
      target: '/artifacts//etc/passwd',
      status: 400,
    },
    { what: 'a backslash', target: '/artifacts/..\\secret.txt', status: 400 },
    { what: 'an encoded backslash', target: '/artifacts/t1%5C..%5C..%5Csecret.txt', status: 400 },
    { what: 'an encoded NUL', target: '/artifacts/secret.txt%00.png', status: 400 },
    { what: 'an overlong UTF-8 dot', target: '/artifacts/%c0%ae%c0%ae/secret.txt', status: 400 },
    { what: 'a broken escape', target: '/artifacts/%E0%A4%A', status: 400 },
    {
      what: '.. double encoded (a name, not a step up)',
      target: '/artifacts/%252e%252e/secret.txt',
      status: 404,
    },
    { what: 'a folder symlinked outside', target: '/artifacts/outside/secret.txt', status: 404 },
    { what: 'an overlong name', target: `/artifacts/${'a'.repeat(5000)}`, status: 404 },
    { what: 'a very deep path', target: `/artifacts/${'a/'.repeat(2000)}b`, status: 404 },
  ])('refuses $what with $status', async ({ target, status }) => {
    const answer = await rawGet(target);
    expect(answer.status).toBe(status);
    expect(answer.body).not.toContain(SECRET);
  });

  it('refuses an absolute path given whole, encoded', async () => {
    const answer = await rawGet(`/artifacts/${encodeURIComponent(join(dir, 'secret.txt'))}`);
    expect(answer.status).toBe(400);
    expect(answer.body).not.toContain(SECRET);
  });

  it.each([
    ['a raw NUL', '/artifacts/secret.txt\0.png'],
    ['a raw space', '/artifacts/../ secret.txt'],
    ['an absolute URL with ..', 'http://127.0.0.1/artifacts/../secret.txt'],
    ['a URL of 20,000 characters', `/artifacts/${'a'.repeat(20_000)}`],
  ])('answers %s with a 4xx and nothing of the file', async (_what, target) => {
    const answer = await rawGet(target);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.body).not.toContain(SECRET);
  });

  it.each([
    '/trials/default/..%2F..%2Fsecret.txt',
    '/trials/default/..',
    '/api/trials/default/..%2fsecret.txt',
    '/sweeps/default/..%5C..%5Csecret.txt',
    '/events/default/%2e%2e',
  ])('finds no page at %s and never reads the file', async (target) => {
    const answer = await rawGet(target);
    expect(answer.status).toBe(404);
    expect(answer.body).not.toContain(SECRET);
  });

  it('answers a FIFO in the store 404 at once, without waiting for a writer', async () => {
    execFileSync('mkfifo', [join(artifactsDir, 't1', 'pipe.png')]);
    expect((await rawGet('/artifacts/t1/pipe.png')).status).toBe(404);
  });

  it('serves a file removed after its lookup whole, from the handle it opened', async () => {
    writeFileSync(join(artifactsDir, 't1', 'gone.txt'), 'still here');
    const lookup = await findArtifact(artifactsDir, 't1/gone.txt');
    if (!lookup.found) throw new Error(lookup.message);
    unlinkSync(join(artifactsDir, 't1', 'gone.txt'));
    expect(await lookup.handle.readFile('utf8')).toBe('still here');
    await lookup.handle.close();
    expect((await rawGet('/artifacts/t1/gone.txt')).status).toBe(404);
  });

  it('goes on answering after all of them', async () => {
    expect((await rawGet('/healthz')).status).toBe(200);
    expect(await rawGet('/artifacts/t1/a.txt')).toEqual({ status: 200, body: 'inside' });
  });
});
