import {
  InvalidMessageError,
  LifecycleEvent,
  type MessageInit,
  type MetricEvent,
  MetricKind,
  Stage,
} from '@masksweep/proto';

/** The members of LifecycleEvent's oneof `event`, in .proto order. */
export const LIFECYCLE_EVENT_CASES = [
  'started',
  'stageChanged',
  'finished',
  'failed',
  'diverged',
  'pruned',
] as const satisfies readonly NonNullable<LifecycleEvent['event']>[];
export type LifecycleEventCase = (typeof LIFECYCLE_EVENT_CASES)[number];

/** `STAGE_PRETRAIN` -> `pretrain`: enum values as short, stable words. */
function shortNames(values: Record<string, number>, prefix: string): Map<number, string> {
  return new Map(
    Object.entries(values).map(([name, value]) => [value, name.slice(prefix.length).toLowerCase()]),
  );
}
const STAGE_NAMES = shortNames(Stage, 'STAGE_');
const KIND_NAMES = shortNames(MetricKind, 'METRIC_KIND_');
const nameOf = (names: Map<number, string>, value = 0) => names.get(value) ?? String(value);

/**
 * The de-duplication id (`Nats-Msg-Id`) of a metric event:
 * `<namespace>/<trial>/<attempt>/<stage>/<kind>/<step>`, e.g. `ns/t/1/pretrain/train/120`.
 * The namespace is part of it because two namespaces may run trials of the same name.
 */
export function metricEventId(event: MessageInit<MetricEvent>): string {
  return [
    event.namespace ?? '',
    event.trial ?? '',
    event.attempt ?? 0,
    nameOf(STAGE_NAMES, event.stage),
    nameOf(KIND_NAMES, event.kind),
    event.step ?? 0,
  ].join('/');
}

/** The oneof member set in a lifecycle event; throws InvalidMessageError (field `event`) when none is. */
export function lifecycleEventCase(event: MessageInit<LifecycleEvent>): LifecycleEventCase {
  const set = LIFECYCLE_EVENT_CASES.find(
    (name) => event[name] !== undefined && event[name] !== null,
  );
  if (set === undefined) {
    throw new InvalidMessageError(
      LifecycleEvent.typeName,
      'event',
      `one of ${LIFECYCLE_EVENT_CASES.join(', ')} must be set`,
    );
  }
  return set;
}

/**
 * The de-duplication id of a lifecycle event:
 * `<namespace>/<trial>/<attempt>/lifecycle/<case>[/<stage or step>]`; stageChanged adds the
 * new stage, diverged and pruned the step, e.g. `ns/t/1/lifecycle/stageChanged/finetune`.
 */
export function lifecycleEventId(event: MessageInit<LifecycleEvent>): string {
  const eventCase = lifecycleEventCase(event);
  const base = `${event.namespace ?? ''}/${event.trial ?? ''}/${event.attempt ?? 0}/lifecycle/${eventCase}`;
  switch (eventCase) {
    case 'stageChanged':
      return `${base}/${nameOf(STAGE_NAMES, event.stageChanged?.stage)}`;
    case 'diverged':
      return `${base}/${event.diverged?.step ?? 0}`;
    case 'pruned':
      return `${base}/${event.pruned?.step ?? 0}`;
    case 'started':
    case 'finished':
    case 'failed':
      return base;
  }
}
