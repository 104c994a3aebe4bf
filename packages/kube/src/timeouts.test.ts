/**
 * Time limits against real sockets on 127.0.0.1 that fail as a hung API server does: one
 * that accepts and never answers, one that sends headers and stalls the body, a watch that
 * goes silent, a Lease whose renewals hang. No mocks: the client, informer, leader election
 * and work queue run as in the controller.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient, type KubeClient, type KubeObject } from './client.js';
import { KubeTimeoutError } from './errors.js';
import { Informer } from './informer.js';
import { acquireLeadership } from './leader.js';
import { TerminalError, WorkQueue } from './workqueue.js';

let tls: { key: Buffer; cert: Buffer };
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'kube-timeouts-'));
  try {
    execFileSync('openssl', [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
      ...['-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    ]);
    tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A server's connections, each with a promise of its close. */
class Connections {
  readonly closed: Promise<void>[] = [];
  readonly open = new Set<Socket>();
  track(socket: Socket): void {
    this.open.add(socket);
    this.closed.push(
      new Promise((resolve) =>
        socket.once('close', () => {
          this.open.delete(socket);
          resolve();
        }),
      ),
    );
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function listen(server: Server | HttpsServer, connections: Connections): Promise<string> {
  server.on('connection', (socket: Socket) => connections.track(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of connections.open) socket.destroy();
    server.close();
  });
  return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** An HTTPS server whose answers `route` writes (or never finishes). */
async function httpsServer(
  route: (request: IncomingMessage, response: ServerResponse, body: string) => void,
): Promise<{ url: string; connections: Connections }> {
  const connections = new Connections();
  const server = createHttpsServer(tls, (request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => route(request, response, body));
  });
  return { url: await listen(server, connections), connections };
}

function client(server: string, requestTimeoutMs?: number): KubeClient {
  const made = createKubeClient({ server, tls: { rejectUnauthorized: false }, requestTimeoutMs });
  cleanups.push(() => made.close());
  return made;
}

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};

/** Settles with the error, and how long after the call it came. */
async function timed(work: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return { error, ms: performance.now() - started };
}

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<never>((_resolve, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms),
    ),
  ]);

describe('a request without an answer', () => {
  it('fails with a KubeTimeoutError naming method, path and limit when the server accepts and never answers, and closes the socket', async () => {
    const connections = new Connections();
    // Reads what comes (so it sees the client's close), answers nothing, not even TLS.
    const url = await listen(
      createTcpServer((socket) => socket.resume()),
      connections,
    );
    const { error, ms } = await timed(client(url, 300).call('GET', '/api/v1/namespaces/a/pods'));
    expect(error).toBeInstanceOf(KubeTimeoutError);
    expect(error).toMatchObject({
      method: 'GET',
      path: '/api/v1/namespaces/a/pods',
      timeoutMs: 300,
      retryable: true,
      message: 'GET /api/v1/namespaces/a/pods: no answer within 300 ms (timed out)',
    });
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1_000);
    expect(connections.closed).toHaveLength(1);
    await within(connections.closed[0] as Promise<void>, 1_000, 'the socket closed');
  });

  it('fails when the headers come and the body stalls, with the per-request limit over the client default', async () => {
    const { url, connections } = await httpsServer((request, response) => {
      if (request.url?.endsWith('/healthy')) return json(response, 200, { ok: true });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"kind":"ConfigMap","data":{"value":'); // and nothing more
    });
    const kube = client(url); // 30 s by default
    const { error, ms } = await timed(
      kube.call(
        'PATCH',
        '/api/v1/namespaces/a/configmaps/b',
        { data: { value: '1' } },
        {
          timeoutMs: 400,
        },
      ),
    );
    expect(error).toBeInstanceOf(KubeTimeoutError);
    expect((error as Error).message).toBe(
      'PATCH /api/v1/namespaces/a/configmaps/b: no answer within 400 ms (timed out)',
    );
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(1_100);
    await within(connections.closed[0] as Promise<void>, 1_000, 'the socket closed');
    // The kept-alive agent does not hand the destroyed socket to the next request.
    await expect(kube.call('GET', '/healthy')).resolves.toEqual({ ok: true });
  });

  it('is retried by the work queue with its back-off, and succeeds once the server answers', async () => {
    let stalled = true;
    const { url } = await httpsServer((_request, response) => {
      if (stalled) return; // accepts the request, never answers
      json(response, 200, { ok: true });
    });
    const kube = client(url, 200);
    const failures: [string, number | undefined][] = [];
    const handled: unknown[] = [];
    const queue = new WorkQueue({
      handle: async () => {
        handled.push(await kube.call('GET', '/api/v1/namespaces/a/configmaps'));
        return undefined;
      },
      baseDelayMs: 50,
      onError: (_key, error, retryInMs) => {
        failures.push([error.name, retryInMs]);
        stalled = false;
      },
    });
    cleanups.push(() => void queue.shutDown());
    queue.add('a/sweep');
    await within(
      (async () => {
        while (handled.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      3_000,
      'the retry succeeded',
    );
    expect(new KubeTimeoutError('GET', '/', 1)).not.toBeInstanceOf(TerminalError);
    expect(failures).toEqual([['KubeTimeoutError', 50]]);
    expect(handled).toEqual([{ ok: true }]);
  });
});

describe('a watch', () => {
  const event = (type: string, name: string, resourceVersion: string) =>
    `${JSON.stringify({ type, object: { metadata: { name, namespace: 'a', resourceVersion } } })}\n`;

  it('is not cut by the request limit while its events keep coming', async () => {
    const { url } = await httpsServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      let sent = 0;
      const tick = setInterval(() => {
        sent += 1;
        response.write(event('ADDED', `cm-${sent}`, String(sent)));
        if (sent === 8) {
          clearInterval(tick);
          response.end();
        }
      }, 100);
    });
    const names: string[] = [];
    const stop = new AbortController();
    for await (const { object } of client(url, 250).watch(
      '/api/v1/configmaps?watch=1',
      stop.signal,
      {
        idleTimeoutMs: 400,
      },
    ))
      names.push(object.metadata.name);
    expect(names).toHaveLength(8); // 800 ms, three times the request limit
  });

  it('that stalls is cut after timeoutSeconds plus the margin, reported, and watched again from where it was', async () => {
    const requests: string[] = [];
    const { url, connections } = await httpsServer((request, response) => {
      requests.push(request.url as string);
      const query = new URL(request.url as string, 'https://x').searchParams;
      if (!query.has('watch'))
        return json(response, 200, {
          metadata: { resourceVersion: '1' },
          items: [{ metadata: { name: 'listed', namespace: 'a', resourceVersion: '1' } }],
        });
      response.writeHead(200, { 'content-type': 'application/json' });
      const watchNumber = requests.filter((sent) => sent.includes('watch=1')).length;
      if (watchNumber === 1) response.write(event('ADDED', 'before-stall', '2'));
      if (watchNumber === 2) response.write(event('ADDED', 'after-restart', '3'));
      // then silence, with the connection open: the server never ends the watch
    });
    const errors: Error[] = [];
    const informer = new Informer<KubeObject>({
      client: client(url, 5_000),
      path: '/api/v1/configmaps',
      watchTimeoutSeconds: 1,
      stalledWatchMarginMs: 300,
      retryMs: 50,
      onError: (error) => errors.push(error),
    });
    const started = performance.now();
    await informer.start();
    cleanups.push(() => void informer.stop());
    await within(
      (async () => {
        while (!informer.get('a', 'after-restart'))
          await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      4_000,
      'the second watch',
    );
    const restartedAfterMs = performance.now() - started;
    expect(restartedAfterMs).toBeGreaterThanOrEqual(1_300);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(KubeTimeoutError);
    expect(errors[0]?.message).toMatch(
      /^WATCH \/api\/v1\/configmaps\?watch=1&resourceVersion=1&.*timeoutSeconds=1: no event or bookmark within 1300 ms/,
    );
    // Watched again from the last event's resourceVersion, without listing again.
    expect(
      requests.map((sent) => new URL(sent, 'https://x').searchParams.get('resourceVersion')),
    ).toEqual([null, '1', '2']);
    expect(
      informer
        .list()
        .map((object) => object.metadata.name)
        .sort(),
    ).toEqual(['after-restart', 'before-stall', 'listed']);
    await within(connections.closed[0] as Promise<void>, 1_000, 'the stalled socket closed');
  });
});

describe('leader election', () => {
  it('loses leadership by the renew deadline when renewals hang, however long the client would wait', async () => {
    let lease: (KubeObject & { spec: Record<string, unknown> }) | undefined;
    let version = 0;
    let hang = false;
    const { url } = await httpsServer((request, response, body) => {
      if (hang) return; // accepts, never answers
      if (request.method === 'GET')
        return lease ? json(response, 200, lease) : json(response, 404, { message: 'not found' });
      version += 1;
      lease = JSON.parse(body);
      (lease as KubeObject).metadata.resourceVersion = String(version);
      json(response, request.method === 'POST' ? 201 : 200, lease);
    });
    const errors: Error[] = [];
    const stop = new AbortController();
    cleanups.push(() => stop.abort());
    const leading = await acquireLeadership(
      {
        client: client(url), // 30 s: only the renew deadline can end a hung renewal in time
        namespace: 'a',
        name: 'leader',
        identity: 'me',
        leaseDurationSeconds: 3,
        renewDeadlineMs: 600,
        retryPeriodMs: 100,
        onError: (error) => errors.push(error),
      },
      stop.signal,
    );
    expect(leading).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 350)); // renews meanwhile
    expect(version).toBeGreaterThan(1);
    expect(leading?.lost.aborted).toBe(false);
    hang = true;
    const hungAt = performance.now();
    await within(
      new Promise((resolve) => leading?.lost.addEventListener('abort', resolve)),
      2_000,
      'leadership lost',
    );
    // At most one retry period after the last renewal plus the deadline.
    expect(performance.now() - hungAt).toBeLessThan(600 + 100 + 300);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((error) => error instanceof KubeTimeoutError)).toBe(true);
    expect(errors[0]?.message).toMatch(
      /^(GET|PUT) \/apis\/coordination.k8s.io\/v1\/namespaces\/a\/leases\/leader: no answer within \d+ ms/,
    );
  });
});
