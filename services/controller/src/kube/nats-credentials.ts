/**
 * NATS credentials in Secrets (see @masksweep/bus nats-auth.ts for the model).
 *
 * The authority Secret, in the controller's namespace, holds what the NATS server needs to
 * trust masksweep's users (`auth.conf`), MASKSWEEP's signing key and the readers'
 * credentials (leaderboard, controller). The controller creates it on its first start, when
 * it is missing; later starts read it. Each Sweep gets a Secret of its own, owned by the
 * Sweep (deleted with it), holding a trial user that may publish only that sweep's events;
 * its trial pods mount it (resources.ts).
 */
import {
  createNatsAuthority,
  mintUserCredentials,
  type NatsAuthority,
  natsServerAuthConfig,
} from '@masksweep/bus';
import { createIfAbsent, type KubeClient, type KubeObject, NotFoundError } from '@masksweep/kube';
import {
  LABELS,
  MANAGER,
  ownerReference,
  TRIAL_NATS_CREDENTIALS_KEY,
  trialNatsCredentialsSecretName,
} from './resources.js';

/** The keys of the authority Secret. */
export const NATS_AUTHORITY_KEYS = {
  /** nats-server's operator, system account and preloaded accounts: the server includes it. */
  serverConfig: 'auth.conf',
  operatorSeed: 'operator.seed',
  account: 'account.pub',
  accountSigningSeed: 'account-signing.seed',
  leaderboardCreds: 'leaderboard.creds',
  controllerCreds: 'controller.creds',
} as const;

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** What the controller takes from the authority Secret. */
export interface NatsIssuer {
  account: string;
  accountSigningSeed: string;
  /** The controller's own credentials, a reader's. */
  controllerCreds: string;
}

const secretsPath = (namespace: string) => `/api/v1/namespaces/${namespace}/secrets`;

/**
 * The authority Secret `name` in `namespace`, created with a new authority when missing
 * (two controllers starting at once: the second reads the first one's).
 */
export async function ensureNatsAuthority(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<NatsIssuer> {
  const path = `${secretsPath(namespace)}/${name}`;
  const existing = await readSecret(client, path);
  if (existing) return issuerOf(existing, `Secret ${namespace}/${name}`);
  const authority = await createNatsAuthority();
  const stringData = await authoritySecretData(authority);
  const created = await createIfAbsent<SecretObject>(client, secretsPath(namespace), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { [LABELS.managedBy]: MANAGER } },
    type: 'Opaque',
    stringData,
  });
  if (created) return issuerOf({ stringData }, `Secret ${namespace}/${name}`);
  const winner = await readSecret(client, path);
  if (!winner) throw new Error(`Secret ${namespace}/${name} was created and deleted at once`);
  return issuerOf(winner, `Secret ${namespace}/${name}`);
}

/** The authority Secret's entries for a new authority, readers' credentials included. */
export async function authoritySecretData(
  authority: NatsAuthority,
): Promise<Record<string, string>> {
  return {
    [NATS_AUTHORITY_KEYS.serverConfig]: natsServerAuthConfig(authority),
    [NATS_AUTHORITY_KEYS.operatorSeed]: authority.operatorSeed,
    [NATS_AUTHORITY_KEYS.account]: authority.account,
    [NATS_AUTHORITY_KEYS.accountSigningSeed]: authority.accountSigningSeed,
    [NATS_AUTHORITY_KEYS.leaderboardCreds]: await mintUserCredentials(authority, {
      kind: 'reader',
      name: 'leaderboard',
    }),
    [NATS_AUTHORITY_KEYS.controllerCreds]: await mintUserCredentials(authority, {
      kind: 'reader',
      name: 'controller',
    }),
  };
}

/** A Sweep as the issuer needs it: its name, namespace and uid (for the owner reference). */
export interface OwningSweep {
  metadata: { name: string; namespace?: string; uid?: string };
}

/**
 * Makes sure the Sweep has its trial credentials Secret: minted and created when missing,
 * kept when present (a restarted controller, a new generation). Idempotent.
 */
export async function ensureTrialNatsCredentials(
  client: KubeClient,
  issuer: NatsIssuer,
  sweep: OwningSweep,
): Promise<void> {
  const { name, uid } = sweep.metadata;
  const namespace = sweep.metadata.namespace ?? 'default';
  if (!uid) throw new Error(`Sweep ${namespace}/${name} has no uid to own its NATS credentials`);
  const secretName = trialNatsCredentialsSecretName(name);
  if (await readSecret(client, `${secretsPath(namespace)}/${secretName}`)) return;
  const creds = await mintUserCredentials(issuer, { kind: 'trial', namespace, sweep: name });
  await createIfAbsent<SecretObject>(client, secretsPath(namespace), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName,
      namespace,
      labels: { [LABELS.managedBy]: MANAGER, [LABELS.sweep]: name },
      ownerReferences: [ownerReference(sweep)],
    },
    type: 'Opaque',
    stringData: { [TRIAL_NATS_CREDENTIALS_KEY]: creds },
  });
}

async function readSecret(client: KubeClient, path: string): Promise<SecretObject | undefined> {
  try {
    return await client.call<SecretObject>('GET', path);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

function issuerOf(secret: Pick<SecretObject, 'data' | 'stringData'>, what: string): NatsIssuer {
  const entry = (key: string) => {
    const plain = secret.stringData?.[key];
    const encoded = secret.data?.[key];
    const value = plain ?? (encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined);
    if (!value) throw new Error(`${what} has no ${key}: delete it to have a new one made`);
    return value;
  };
  return {
    account: entry(NATS_AUTHORITY_KEYS.account).trim(),
    accountSigningSeed: entry(NATS_AUTHORITY_KEYS.accountSigningSeed).trim(),
    controllerCreds: entry(NATS_AUTHORITY_KEYS.controllerCreds),
  };
}
