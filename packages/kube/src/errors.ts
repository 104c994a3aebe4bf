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
