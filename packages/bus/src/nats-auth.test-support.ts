/**
 * A real nats-server in operator mode for tests: it trusts a new authority, whose signing
 * key the test uses to mint users (see nats-auth.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsServer, startNatsServer } from '@masksweep/testing';
import {
  createNatsAuthority,
  mintUserCredentials,
  type NatsAuthority,
  type NatsUserRole,
  natsServerAuthConfig,
} from './nats-auth.js';

export interface AuthNatsServer {
  server: NatsServer;
  authority: NatsAuthority;
  /** Writes a credentials file for a new user of `role` and returns its path. */
  credsFile(role: NatsUserRole): Promise<string>;
}

export async function startAuthNatsServer(): Promise<AuthNatsServer> {
  const authority = await createNatsAuthority();
  const dir = mkdtempSync(join(tmpdir(), 'masksweep-nats-auth-'));
  const config = join(dir, 'nats.conf');
  writeFileSync(config, natsServerAuthConfig(authority));
  const server = await startNatsServer({ args: ['--config', config] });
  let users = 0;
  return {
    server,
    authority,
    async credsFile(role) {
      const path = join(dir, `user-${++users}.creds`);
      writeFileSync(path, await mintUserCredentials(authority, role), { mode: 0o600 });
      return path;
    },
  };
}
