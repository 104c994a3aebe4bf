/**
 * How a process proves who it is to NATS: a credentials file (a user JWT and its nkey seed,
 * as the controller mints per Sweep, see nats-auth.ts) or a user and password. Every
 * service reads them from the same environment variables.
 */
import { readFileSync } from 'node:fs';
import { parseCreds } from '@nats-io/jwt';
import {
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
  usernamePasswordAuthenticator,
} from 'nats';
import { InvalidOptionError } from './errors.js';

export interface BusCredentials {
  /** A NATS credentials file (`.creds`: a user JWT and its seed). */
  credsFile?: string;
  /** The text of one, for a process that holds it in memory (the controller's own). */
  creds?: string;
  user?: string;
  password?: string;
}

/** The environment variables of {@link BusCredentials}. */
export const BUS_CREDENTIALS_ENV = {
  credsFile: 'MASKSWEEP_NATS_CREDS',
  user: 'MASKSWEEP_NATS_USER',
  password: 'MASKSWEEP_NATS_PASSWORD',
} as const;

/** The credentials the environment names; undefined when it names none (anonymous). */
export function busCredentialsFromEnv(
  env: Record<string, string | undefined> = process.env,
): BusCredentials | undefined {
  const credsFile = env[BUS_CREDENTIALS_ENV.credsFile] || undefined;
  const user = env[BUS_CREDENTIALS_ENV.user] || undefined;
  const password = env[BUS_CREDENTIALS_ENV.password] || undefined;
  if (!credsFile && !user && !password) return undefined;
  return { credsFile, user, password };
}

/**
 * Connection options that authenticate with `credentials`; throws InvalidOptionError naming
 * the variable when they cannot be used (an unreadable or malformed creds file, a user
 * without password, both kinds at once). A creds file whose user may subscribe to one
 * `_INBOX...>` subject only (a trial's) sets that as the connection's inbox prefix, so its
 * acknowledgements come where the user may read.
 */
export async function credentialOptions(
  credentials: BusCredentials | undefined,
): Promise<Partial<ConnectionOptions>> {
  if (!credentials) return {};
  const { credsFile, creds: credsText, user, password } = credentials;
  if (credsText !== undefined)
    return credsOptions(credsText, 'creds', 'the creds given', () => encoder.encode(credsText));
  if (credsFile && (user || password)) {
    throw new InvalidOptionError(
      BUS_CREDENTIALS_ENV.credsFile,
      `give a credentials file or ${BUS_CREDENTIALS_ENV.user}/${BUS_CREDENTIALS_ENV.password}, not both`,
    );
  }
  if (!credsFile) {
    if (!user || !password) {
      throw new InvalidOptionError(
        user ? BUS_CREDENTIALS_ENV.password : BUS_CREDENTIALS_ENV.user,
        `${BUS_CREDENTIALS_ENV.user} and ${BUS_CREDENTIALS_ENV.password} go together`,
      );
    }
    return { authenticator: usernamePasswordAuthenticator(user, password) };
  }
  let creds: Uint8Array;
  try {
    creds = readFileSync(credsFile);
  } catch (error) {
    throw new InvalidOptionError(
      BUS_CREDENTIALS_ENV.credsFile,
      `cannot read ${credsFile}: ${(error as Error).message}`,
    );
  }
  // Read again at each (re)connect: a rotated file is picked up without a restart.
  return credsOptions(
    new TextDecoder().decode(creds),
    BUS_CREDENTIALS_ENV.credsFile,
    credsFile,
    () => readFileSync(credsFile),
  );
}

const encoder = new TextEncoder();

/** Options for a user JWT and seed in `text`; `field` and `source` name where they came from. */
async function credsOptions(
  text: string,
  field: string,
  source: string,
  read: () => Uint8Array,
): Promise<Partial<ConnectionOptions>> {
  let subscribable: string[];
  try {
    const { uc } = await parseCreds(encoder.encode(text));
    subscribable = uc.nats.sub?.allow ?? [];
  } catch (error) {
    throw new InvalidOptionError(
      field,
      `${source} is not a NATS credentials file (a user JWT and its nkey seed): ${(error as Error).message}`,
    );
  }
  const inboxes = subscribable.filter((subject) => subject.startsWith('_INBOX'));
  const [inbox] = inboxes;
  const inboxPrefix =
    inboxes.length === 1 && inbox?.endsWith('.>') && inbox !== '_INBOX.>'
      ? inbox.slice(0, -2)
      : undefined;
  return { authenticator: credsAuthenticator(read), ...(inboxPrefix && { inboxPrefix }) };
}

/** The inbox prefix the connection was opened with ('_INBOX' by default). */
export function inboxPrefixOf(connection: NatsConnection): string {
  // nats.js keeps its options on the connection object, though its interface hides them.
  const options = (connection as { options?: ConnectionOptions }).options;
  return options?.inboxPrefix || '_INBOX';
}
