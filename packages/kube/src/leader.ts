/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate
 * takes the lease when it is free or when its holder has not renewed it for
 * `leaseDurationSeconds` as seen on the candidate's own clock (no trust in other clocks);
 * the leader renews every `retryPeriodMs` and gives up leading when it could not renew for
 * `renewDeadlineMs`. Updates carry the resourceVersion read, so two candidates never both win.
 * A renewal's requests are limited to the time left before that deadline (client-go's
 * context): a hung API call fails the renewal in time instead of holding leadership silently.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from './client.js';
import { ConflictError, NotFoundError } from './errors.js';
import { createIfAbsent } from './writes.js';

interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This candidate, unique among the replicas (e.g. the pod name and a random suffix). */
  identity: string;
  /** @default 15 */
  leaseDurationSeconds?: number;
  /** @default 10000 */
  renewDeadlineMs?: number;
  /** @default 2000 */
  retryPeriodMs?: number;
  /** Failed API calls while electing (they are retried). */
  onError?: (error: Error) => void;
}

/**
 * Waits until this candidate leads, then resolves with a signal that aborts when it stops
 * leading (a renewal failed for longer than the deadline, or another holder took over).
 * `stop` aborts waiting; when leading it releases the lease, so a successor need not wait.
 */
export async function acquireLeadership(
  options: LeaderElectionOptions,
  stop: AbortSignal,
): Promise<{ lost: AbortSignal; release(): Promise<void> } | undefined> {
  const durationMs = (options.leaseDurationSeconds ?? 15) * 1000;
  const retryMs = options.retryPeriodMs ?? 2_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const path = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases`;
  // The last renewTime seen, and when (on our clock) it was first seen.
  let observed: { renewTime?: string; holder?: string; at: number } = { at: 0 };

  /** `deadline`: when a renewal must have succeeded (each request's limit is the time left). */
  const tryAcquireOrRenew = async (deadline?: number): Promise<boolean> => {
    const limit = () =>
      deadline === undefined ? {} : { timeoutMs: Math.max(1, deadline - Date.now()) };
    const now = microTime();
    let lease: Lease;
    try {
      lease = await options.client.call<Lease>(
        'GET',
        `${path}/${options.name}`,
        undefined,
        limit(),
      );
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      // Another candidate may create it first: then it holds the lease.
      const created = await createIfAbsent<Lease>(
        options.client,
        path,
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: options.name, namespace: options.namespace },
          spec: {
            holderIdentity: options.identity,
            leaseDurationSeconds: durationMs / 1000,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
        limit(),
      );
      return created !== undefined;
    }
    const { spec } = lease;
    if (spec.renewTime !== observed.renewTime || spec.holderIdentity !== observed.holder)
      observed = { renewTime: spec.renewTime, holder: spec.holderIdentity, at: Date.now() };
    const mine = spec.holderIdentity === options.identity;
    const expired =
      !spec.holderIdentity ||
      Date.now() > observed.at + (spec.leaseDurationSeconds ?? durationMs / 1000) * 1000;
    if (!mine && !expired) return false;
    try {
      await options.client.call(
        'PUT',
        `${path}/${options.name}`,
        {
          ...lease,
          spec: {
            holderIdentity: options.identity,
            leaseDurationSeconds: durationMs / 1000,
            acquireTime: mine ? spec.acquireTime : now,
            renewTime: now,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
          },
        },
        limit(),
      );
      observed = { renewTime: now, holder: options.identity, at: Date.now() };
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false;
      throw error;
    }
  };
  const attempt = async (deadline?: number) => {
    try {
      return await tryAcquireOrRenew(deadline);
    } catch (error) {
      options.onError?.(error as Error);
      return false;
    }
  };

  while (!(await attempt())) {
    if (stop.aborted) return undefined;
    await sleep(retryMs, undefined, { signal: stop }).catch(() => undefined);
    if (stop.aborted) return undefined;
  }
  const lost = new AbortController();
  const renewing = (async () => {
    let renewedAt = Date.now();
    while (!lost.signal.aborted && !stop.aborted) {
      await sleep(retryMs, undefined, { signal: stop }).catch(() => undefined);
      if (stop.aborted) return;
      // A renewal that times out (KubeTimeoutError, to onError) fails like any other.
      if (await attempt(renewedAt + renewDeadlineMs)) renewedAt = Date.now();
      else if (Date.now() - renewedAt >= renewDeadlineMs || observed.holder !== options.identity)
        lost.abort(new Error(`lost the lease ${options.namespace}/${options.name}`));
    }
  })();
  return {
    lost: lost.signal,
    async release() {
      lost.abort();
      await renewing;
      try {
        const lease = await options.client.call<Lease>('GET', `${path}/${options.name}`);
        if (lease.spec.holderIdentity !== options.identity) return;
        // An empty holder is free at once (client-go's ReleaseOnCancel).
        await options.client.call('PUT', `${path}/${options.name}`, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: '', renewTime: microTime() },
        });
      } catch (error) {
        options.onError?.(error as Error);
      }
    },
  };
}

/** A Lease's times are MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
