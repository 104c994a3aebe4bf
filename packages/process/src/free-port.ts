import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that nothing listens on now: the kernel picks one for a
 * throwaway listener, which is closed before returning. Another process may take it in
 * between; servers that can bind port 0 themselves (grpc-js, node:http) should do that.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error(`freePort: unexpected listener address ${String(address)}`));
      });
    });
  });
}
