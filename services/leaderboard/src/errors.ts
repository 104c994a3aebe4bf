/**
 * Errors a caller can act on. `field` names the offending request field as the proto spells
 * it (result.confusion_matrix.counts, page_token, config_key_a, ...), so the gRPC layer can
 * pass it on and the web view can show it.
 */
export class LeaderboardError extends Error {
  override readonly name: string = 'LeaderboardError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A reported result that cannot be stored (gRPC: INVALID_ARGUMENT). */
export class InvalidResultError extends LeaderboardError {
  override readonly name = 'InvalidResultError';
}

/** A metric event that cannot be stored; the whole batch is refused (gRPC: INVALID_ARGUMENT). */
export class InvalidMetricEventError extends LeaderboardError {
  override readonly name = 'InvalidMetricEventError';
}

/** A query or registration with a bad argument (gRPC: INVALID_ARGUMENT, HTTP 400). */
export class InvalidRequestError extends LeaderboardError {
  override readonly name = 'InvalidRequestError';
}

/** A sweep, trial or config that the store does not have (gRPC: NOT_FOUND, HTTP 404). */
export class NotFoundError extends LeaderboardError {
  override readonly name = 'NotFoundError';
}

/**
 * A write that contradicts what is stored: another result for the same trial and attempt,
 * or a second trial of the same config and seed (gRPC: ALREADY_EXISTS).
 */
export class ConflictError extends LeaderboardError {
  override readonly name = 'ConflictError';
}

/**
 * A statistics request refused because the pool already has its limit of requests running
 * or waiting (gRPC: RESOURCE_EXHAUSTED, HTTP 429 with Retry-After). `limit` names the
 * option that sets it.
 */
export class BusyError extends Error {
  override readonly name = 'BusyError';
  constructor(
    readonly limit: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * A statistics request stopped after the pool's time limit, its worker ended
 * (gRPC: DEADLINE_EXCEEDED, HTTP 503).
 */
export class StatisticsTimeoutError extends Error {
  override readonly name = 'StatisticsTimeoutError';
}
