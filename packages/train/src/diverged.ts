/** A stage stopped because the loss or the gradients became NaN or infinite. */
export class DivergedError extends Error {
  override readonly name = 'DivergedError';
  constructor(
    readonly stage: string,
    readonly step: number,
    readonly learningRate: number,
    readonly value: number,
  ) {
    super(
      `${stage} diverged at step ${step} (learning rate ${learningRate.toExponential(2)}): loss or gradient norm ${value}`,
    );
  }
}
