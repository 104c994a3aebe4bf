/**
 * Kubernetes API answers as typed errors, mapped once here: callers test `instanceof`, never
 * status numbers.
 */
export class KubeApiError extends Error {
  override readonly name: string = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    /** The `Status` object's message, else the body as text. */
    readonly detail: string,
  ) {
    super(`${method} ${path} answered ${status}: ${detail}`);
  }
}

/** 404: the object (or its kind) is not there. */
export class NotFoundError extends KubeApiError {
  override readonly name = 'NotFoundError';
}

/** 409: it exists already (create), or it changed since it was read (update). */
export class ConflictError extends KubeApiError {
  override readonly name = 'ConflictError';
}

/** 410: a watch's resourceVersion is too old: list again. */
export class GoneError extends KubeApiError {
  override readonly name = 'GoneError';
}

/** 422: the object fails the schema; `detail` names the field. */
export class InvalidError extends KubeApiError {
  override readonly name = 'InvalidError';
}

export function apiError(
  status: number,
  method: string,
  path: string,
  body: unknown,
): KubeApiError {
  const detail =
    typeof body === 'object' && body !== null && 'message' in body
      ? String((body as { message: unknown }).message)
      : String(body);
  switch (status) {
    case 404:
      return new NotFoundError(status, method, path, detail);
    case 409:
      return new ConflictError(status, method, path, detail);
    case 410:
      return new GoneError(status, method, path, detail);
    case 422:
      return new InvalidError(status, method, path, detail);
    default:
      return new KubeApiError(status, method, path, detail);
  }
}

/**
 * No answer in time: a request got no complete response within its limit, or a watch no
 * line for longer than the server's own `timeoutSeconds` allows. The connection is destroyed
 * with it. Retryable: the server or the network stalled, the request was not wrong. Not a
 * {@link KubeApiError}: nothing was answered, so the request may or may not have taken effect
 * (a create retried may then answer 409).
 */
export class KubeTimeoutError extends Error {
  override readonly name = 'KubeTimeoutError';
  readonly retryable = true;
  constructor(
    readonly method: string,
    readonly path: string,
    /** The limit that passed. */
    readonly timeoutMs: number,
    what = 'no answer',
  ) {
    super(`${method} ${path}: ${what} within ${timeoutMs} ms (timed out)`);
  }
}
