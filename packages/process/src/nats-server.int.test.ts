import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { freePort } from './free-port.js';
import { startNatsServer } from './nats-server.js';

async function storedMessages(url: string, stream: string): Promise<number> {
  const connection: NatsConnection = await connect({ servers: url });
  try {
    const info = await (await connection.jetstreamManager()).streams.info(stream);
    return info.state.messages;
  } finally {
    await connection.close();
  }
}

describe('startNatsServer', () => {
  it('gives a port that can be listened on', async () => {
    const port = await freePort();
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
    expect(port).toBeGreaterThan(0);
    await new Promise((resolve) => listener.close(resolve));
  });

  it('keeps the JetStream store across a restart on the same port, and removes it on stop', async () => {
    const server = await startNatsServer();
    try {
      const connection = await connect({ servers: server.url });
      const manager = await connection.jetstreamManager();
      await manager.streams.add({ name: 'KEPT', subjects: ['kept.>'] });
      const ack = await connection.jetstream().publish('kept.one', new TextEncoder().encode('x'));
      expect(ack.seq).toBe(1);
      await connection.close();

      const firstPid = server.pid;
      await server.restart();
      expect(server.pid).not.toBe(firstPid);
      expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
      expect(await storedMessages(server.url, 'KEPT')).toBe(1);

      // A crash keeps what was acknowledged too.
      await server.kill('SIGKILL');
      expect(server.pid).toBeUndefined();
      await server.restart();
      expect(await storedMessages(server.url, 'KEPT')).toBe(1);
    } finally {
      await server.stop();
    }
    expect(existsSync(server.storeDir)).toBe(false);
    await expect(server.restart()).rejects.toThrow(/was stopped/);
  });

  it('leaves a store it was given', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'masksweep-nats-test-'));
    try {
      const server = await startNatsServer({ storeDir });
      expect(server.storeDir).toBe(storeDir);
      await server.stop();
      expect(existsSync(join(storeDir, 'jetstream'))).toBe(true);
    } finally {
      rmSync(storeDir, { recursive: true, force: true });
    }
  });

  it('says how to install nats-server when it is missing', async () => {
    await expect(startNatsServer({ binary: 'nats-server-not-installed' })).rejects.toThrow(
      'nats-server-not-installed not found on PATH: install the Debian package nats-server (apt-get install nats-server)',
    );
  });

  it('reports the server output when it cannot start', async () => {
    await expect(startNatsServer({ args: ['--no-such-flag'] })).rejects.toThrow(
      /nats-server .* exited \(code \d+\); its last output:\n.*no-such-flag/s,
    );
  });
});
