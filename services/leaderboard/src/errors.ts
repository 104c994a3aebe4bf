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
