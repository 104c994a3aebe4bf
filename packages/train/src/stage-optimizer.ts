import type * as tf from '@tensorflow/tfjs-core';
import {
  createOptimizer,
  type Optimizer,
  type OptimizerConfig,
  type OptimizerType,
} from './optimizers.js';
import { createLarsOptimizer } from './simclr/lars.js';

/** What the trainers use of a stage's optimizer; LARS has it as the others do. */
export type StageOptimizer = Pick<Optimizer, 'step' | 'state' | 'loadState' | 'dispose'>;

/**
 * The optimizer a stage names over the named trainable weights: `adamw`, `lamb` or `sgd`
 * (../optimizers.ts), or SimCLR's `lars`. `groups` gives a network's own no-decay names and
 * moment betas to the first three (MFF's ViT); LARS keeps its own exclusions (batch norms,
 * biases, docs/algorithms.md#lars).
 */
export function createStageOptimizer(
  stage: { optimizer: string; lr: number; weightDecay: number },
  named: ReadonlyArray<[string, tf.Variable]>,
  groups: Pick<OptimizerConfig, 'noDecayNames' | 'betas'> = {},
): StageOptimizer {
  const params = named.map(([name, variable]) => ({ name, variable }));
  const { lr, weightDecay } = stage;
  if (stage.optimizer === 'lars') return createLarsOptimizer({ lr, weightDecay }, params);
  return createOptimizer(
    { type: optimizerType(stage.optimizer), lr, weightDecay, ...groups },
    params,
  );
}

function optimizerType(name: string): OptimizerType {
  if (name === 'adamw' || name === 'lamb' || name === 'sgd') return name;
  throw new RangeError(`optimizer '${name}' is not available (adamw, lamb, lars, sgd)`);
}
