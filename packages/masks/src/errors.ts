/** A mask setting that cannot be generated; `field` names the offending option. */
export class MaskOptionError extends Error {
  override readonly name = 'MaskOptionError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A problem found by a pattern's `check`, before anything is generated. */
export interface MaskProblem {
  field: string;
  message: string;
}
