/** A subject, or a name meant to become a subject token, that cannot be used; `field` names it. */
export class InvalidSubjectError extends Error {
  override readonly name = 'InvalidSubjectError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The publisher holds `capacity` events that JetStream has not acknowledged yet. */
export class PublisherBufferFullError extends Error {
  override readonly name = 'PublisherBufferFullError';
  constructor(
    readonly capacity: number,
    /** How long NATS has been away (disconnected or not acknowledging); 0 while it answers. */
    readonly awayMs: number,
    lastProblem: string | undefined,
  ) {
    super(
      `event publisher buffer full: ${capacity} events (the capacity) wait for JetStream's acknowledgement; ${
        awayMs > 0
          ? `NATS has been away for ${(awayMs / 1000).toFixed(1)} s (${lastProblem ?? 'no answer'})`
          : 'NATS answers, but slower than events come'
      }`,
    );
  }
}

/**
 * JetStream refused a message for good (not a passing outage): its events are not retried.
 * Each event of the message is rejected with the same error.
 */
export class EventRejectedError extends Error {
  override readonly name = 'EventRejectedError';
  constructor(
    readonly subject: string,
    readonly messageId: string,
    readonly events: number,
    readonly reason: string,
  ) {
    super(
      `JetStream refused ${events === 1 ? 'event' : `${events} events in message`} ${messageId} on ${subject}: ${reason}`,
    );
  }
}

/** Events were still unacknowledged when a flush or close gave up waiting. */
export class PublisherFlushTimeoutError extends Error {
  override readonly name = 'PublisherFlushTimeoutError';
  constructor(
    readonly pending: number,
    readonly timeoutMs: number,
    lastProblem: string | undefined,
  ) {
    super(
      `${pending} events were not acknowledged by JetStream within ${timeoutMs} ms${
        lastProblem ? ` (last problem: ${lastProblem})` : ''
      }`,
    );
  }
}

/** A publish after close(), or pending events when the connection closed for good. */
export class PublisherClosedError extends Error {
  override readonly name = 'PublisherClosedError';
}

/** An option that cannot be used; `field` names it. */
export class InvalidOptionError extends RangeError {
  override readonly name = 'InvalidOptionError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** `value` unless it is not an integer >= `min`. */
export function checkInteger(field: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(field, `must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** An event whose namespace, sweep or trial is not its subject's: terminated as poison. */
export class MisaddressedEventError extends Error {
  override readonly name = 'MisaddressedEventError';
}

/**
 * NATS refused this connection's credentials an operation the publisher needs: publishing
 * to an event's subject (another sweep's, say), or reading the acknowledgements' inbox.
 * Final: the events concerned are rejected, not retried.
 */
export class PublishNotPermittedError extends Error {
  override readonly name = 'PublishNotPermittedError';
  constructor(
    readonly operation: 'publish' | 'subscribe',
    readonly subject: string,
    reason: string,
  ) {
    super(
      `NATS does not permit this connection to ${operation} ${operation === 'publish' ? 'to' : 'on'} ${subject} (${reason}): its credentials are for other subjects`,
    );
  }
}
