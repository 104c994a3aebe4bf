import { InvalidSubjectError } from './errors.js';

/** Subjects are `masksweep.<namespace>.<sweep>.<trial>.<kind>`. */
export const SUBJECT_PREFIX = 'masksweep';
export const EVENT_KINDS = ['metric', 'lifecycle'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Whose events a subject carries, and which kind. */
export interface EventAddress {
  namespace: string;
  sweep: string;
  trial: string;
  kind: EventKind;
}

// Kubernetes names: lowercase letters, digits, '-' and '.'. A '.' separates NATS tokens,
// so it travels as '_', which such a name never holds: the mapping is reversible.
const TOKEN_CHARACTERS = /^[a-z0-9.-]+$/;

/** `name` as a subject token; throws InvalidSubjectError naming `field` unless it is a Kubernetes name. */
export function subjectToken(field: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidSubjectError(field, `must be a non-empty name, got ${JSON.stringify(name)}`);
  }
  if (!TOKEN_CHARACTERS.test(name)) {
    const bad = [...name].find((c) => !/[a-z0-9.-]/.test(c));
    throw new InvalidSubjectError(
      field,
      `${JSON.stringify(name)} contains ${JSON.stringify(bad)}: a subject token takes a Kubernetes name (lowercase letters, digits, '-' and '.')`,
    );
  }
  return name.replaceAll('.', '_');
}

function nameOfToken(token: string): string {
  return token.replaceAll('_', '.');
}

export function subjectFor(address: EventAddress): string {
  if (!EVENT_KINDS.includes(address.kind)) {
    throw new InvalidSubjectError(
      'kind',
      `must be one of ${EVENT_KINDS.join(', ')}, got ${JSON.stringify(address.kind)}`,
    );
  }
  return [
    SUBJECT_PREFIX,
    subjectToken('namespace', address.namespace),
    subjectToken('sweep', address.sweep),
    subjectToken('trial', address.trial),
    address.kind,
  ].join('.');
}

/** The address of an event subject; throws InvalidSubjectError (field `subject`) for any other subject. */
export function parseSubject(subject: string): EventAddress {
  const tokens = subject.split('.');
  const [prefix, namespace, sweep, trial, kind] = tokens;
  const refuse = (why: string) =>
    new InvalidSubjectError('subject', `${JSON.stringify(subject)} ${why}`);
  if (tokens.length !== 5 || prefix !== SUBJECT_PREFIX) {
    throw refuse(`is not ${SUBJECT_PREFIX}.<namespace>.<sweep>.<trial>.<kind>`);
  }
  if (!EVENT_KINDS.includes(kind as EventKind)) {
    throw refuse(`has kind ${JSON.stringify(kind)}, not one of ${EVENT_KINDS.join(', ')}`);
  }
  const address = {
    namespace: nameOfToken(namespace as string),
    sweep: nameOfToken(sweep as string),
    trial: nameOfToken(trial as string),
    kind: kind as EventKind,
  };
  for (const field of ['namespace', 'sweep', 'trial'] as const) {
    if (!TOKEN_CHARACTERS.test(address[field])) {
      throw refuse(`has a ${field} token that is not an encoded Kubernetes name`);
    }
  }
  return address;
}

/** A filter subject for every event, or every event of one kind. */
export function allEventsSubject(kind?: EventKind): string {
  return kind ? `${SUBJECT_PREFIX}.*.*.*.${kind}` : `${SUBJECT_PREFIX}.>`;
}

/** A filter subject for the events of one sweep. */
export function sweepEventsSubject(namespace: string, sweep: string, kind?: EventKind): string {
  return [
    SUBJECT_PREFIX,
    subjectToken('namespace', namespace),
    subjectToken('sweep', sweep),
    '*',
    kind ?? '*',
  ].join('.');
}

/** A filter subject for the events of one trial. */
export function trialEventsSubject(
  namespace: string,
  sweep: string,
  trial: string,
  kind?: EventKind,
): string {
  return [
    SUBJECT_PREFIX,
    subjectToken('namespace', namespace),
    subjectToken('sweep', sweep),
    subjectToken('trial', trial),
    kind ?? '*',
  ].join('.');
}
