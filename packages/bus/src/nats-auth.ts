/**
 * NATS in operator mode (decentralized JWT authentication) for masksweep. An operator signs
 * two accounts: the system account and MASKSWEEP, which holds the events stream. The
 * server trusts the operator and has both account JWTs preloaded (`resolver: MEMORY`), so
 * it needs no configuration per user: a user is a JWT signed by MASKSWEEP's signing key,
 * and its permissions travel in it. The controller holds that key and mints a trial user
 * per Sweep, allowed to publish only on that sweep's subjects; the leaderboard and the
 * controller read with reader users. JWT encoding and nkeys are @nats-io/jwt's.
 */
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromSeed,
} from '@nats-io/jwt';
import { InvalidOptionError } from './errors.js';
import { EVENTS_STREAM } from './stream.js';
import { SUBJECT_PREFIX, subjectToken } from './subjects.js';

/** The keys and JWTs of a masksweep NATS; the seeds are secrets. */
export interface NatsAuthority {
  /** The operator's seed: signs account JWTs (kept to re-sign them, e.g. new limits). */
  operatorSeed: string;
  operatorJwt: string;
  /** The system account's public key and JWT. */
  systemAccount: string;
  systemAccountJwt: string;
  /** MASKSWEEP's public key and JWT. */
  account: string;
  accountJwt: string;
  /** The seed of MASKSWEEP's signing key, which mints users. */
  accountSigningSeed: string;
}

/** Who a minted user is, which decides what it may publish and read. */
export type NatsUserRole =
  /** A trial pod of one Sweep: publishes that sweep's events, reads nothing but its acks. */
  | { kind: 'trial'; namespace: string; sweep: string }
  /** The leaderboard or the controller: keeps the events stream and reads it, publishes no event. */
  | { kind: 'reader'; name: string };

/** No limit, in JWT limits. */
const UNLIMITED = -1;

const decoder = new TextDecoder();

/** A new operator, system account and MASKSWEEP account with JetStream, and MASKSWEEP's signing key. */
export async function createNatsAuthority(): Promise<NatsAuthority> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const signingKey = createAccount();
  const accountLimits = {
    subs: UNLIMITED,
    data: UNLIMITED,
    payload: UNLIMITED,
    imports: UNLIMITED,
    exports: UNLIMITED,
    wildcards: true,
    conn: UNLIMITED,
    leaf: UNLIMITED,
  };
  const operatorJwt = await encodeOperator('masksweep', operator, {
    system_account: system.getPublicKey(),
  });
  const systemAccountJwt = await encodeAccount(
    'SYS',
    system,
    { limits: accountLimits },
    { signer: operator },
  );
  const accountJwt = await encodeAccount(
    'MASKSWEEP',
    account,
    {
      signing_keys: [signingKey.getPublicKey()],
      // JetStream is on for an account whose storage limits are not 0.
      limits: {
        ...accountLimits,
        mem_storage: UNLIMITED,
        disk_storage: UNLIMITED,
        streams: UNLIMITED,
        consumer: UNLIMITED,
      },
    },
    { signer: operator },
  );
  return {
    operatorSeed: decoder.decode(operator.getSeed()),
    operatorJwt,
    systemAccount: system.getPublicKey(),
    systemAccountJwt,
    account: account.getPublicKey(),
    accountJwt,
    accountSigningSeed: decoder.decode(signingKey.getSeed()),
  };
}

/**
 * The lines of nats-server's configuration that make it trust the authority (to include
 * in, or append to, the server's configuration file).
 */
export function natsServerAuthConfig(
  authority: Pick<
    NatsAuthority,
    'operatorJwt' | 'systemAccount' | 'systemAccountJwt' | 'account' | 'accountJwt'
  >,
): string {
  return [
    `operator: ${authority.operatorJwt}`,
    `system_account: ${authority.systemAccount}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${authority.systemAccount}: ${authority.systemAccountJwt}`,
    `  ${authority.account}: ${authority.accountJwt}`,
    '}',
    '',
  ].join('\n');
}

/** Where a trial's connection receives JetStream's acknowledgements; no other user reads there. */
export function trialInboxPrefix(namespace: string, sweep: string): string {
  return `_INBOX.trial.${subjectToken('namespace', namespace)}.${subjectToken('sweep', sweep)}`;
}

/** What a user of the role may publish and subscribe to. */
export function userPermissions(role: NatsUserRole): {
  pub: { allow: string[] };
  sub: { allow: string[] };
} {
  if (role.kind === 'trial') {
    const sweepSubjects = [
      SUBJECT_PREFIX,
      subjectToken('namespace', role.namespace),
      subjectToken('sweep', role.sweep),
      '*',
      '*',
    ].join('.');
    return {
      pub: { allow: [sweepSubjects] },
      sub: { allow: [`${trialInboxPrefix(role.namespace, role.sweep)}.>`] },
    };
  }
  const api = '$JS.API';
  return {
    pub: {
      allow: [
        `${api}.INFO`,
        ...['INFO', 'CREATE', 'UPDATE'].map((verb) => `${api}.STREAM.${verb}.${EVENTS_STREAM}`),
        `${api}.CONSUMER.>`,
        `$JS.ACK.${EVENTS_STREAM}.>`,
      ],
    },
    sub: { allow: ['_INBOX.>'] },
  };
}

export interface MintOptions {
  /** The user's expiry, in seconds since the epoch. @default never */
  expiresAt?: number;
}

/**
 * A credentials file (user JWT and seed, the `.creds` format nats.js and the nats CLI read)
 * for a new user of `role`, signed by the account's signing key.
 */
export async function mintUserCredentials(
  issuer: { account: string; accountSigningSeed: string },
  role: NatsUserRole,
  options: MintOptions = {},
): Promise<string> {
  let signer: ReturnType<typeof fromSeed>;
  try {
    signer = fromSeed(new TextEncoder().encode(issuer.accountSigningSeed));
  } catch (error) {
    throw new InvalidOptionError(
      'accountSigningSeed',
      `is not an nkey seed: ${(error as Error).message}`,
    );
  }
  const user = createUser();
  const name =
    role.kind === 'trial' ? `trial ${role.namespace}/${role.sweep}` : `reader ${role.name}`;
  const jwt = await encodeUser(
    name,
    user,
    issuer.account,
    { ...userPermissions(role), bearer_token: false },
    { signer, ...(options.expiresAt !== undefined && { exp: options.expiresAt }) },
  );
  return decoder.decode(fmtCreds(jwt, user));
}
