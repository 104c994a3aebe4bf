/**
 * The resumable checkpoint of every method's pre-training stage (SparK, SimCLR, MFF): the
 * network's weights as `net.<name>`, the optimizer's state as `opt.<name>`, and the epoch
 * and loss curves as metadata. Typed by what it uses, so any network and optimizer fit.
 */
import { assignByName, loadTensors, saveTensors } from '@masksweep/models';
import * as tf from '@tensorflow/tfjs-core';
import type { Optimizer } from './optimizers.js';

/** The loss curves a stage keeps across resumptions. */
export interface StageCurves {
  epochLosses: number[];
  stepLosses: number[];
}

export function saveStageCheckpoint(
  file: string,
  weights: Map<string, tf.Variable>,
  optimizer: Pick<Optimizer, 'state'>,
  curves: StageCurves,
  epoch: number,
): void {
  const state = optimizer.state();
  try {
    const tensors = new Map<string, tf.Tensor>([
      ...[...weights].map(([name, v]) => [`net.${name}`, v] as [string, tf.Tensor]),
      ...Object.entries(state).map(([name, t]) => [`opt.${name}`, t] as [string, tf.Tensor]),
    ]);
    saveTensors(file, tensors, {
      epoch,
      epochLosses: curves.epochLosses,
      stepLosses: curves.stepLosses,
    });
  } finally {
    tf.dispose(Object.values(state));
  }
}

/** Restores weights, optimizer state and curves; returns the epoch to continue from. */
export function resumeStageCheckpoint(
  file: string,
  weights: Map<string, tf.Variable>,
  optimizer: Pick<Optimizer, 'loadState'>,
  curves: StageCurves,
): number {
  const { tensors, meta } = loadTensors(file);
  try {
    const prefixed = (prefix: string) =>
      new Map(
        [...tensors]
          .filter(([n]) => n.startsWith(prefix))
          .map(([n, t]) => [n.slice(prefix.length), t]),
      );
    assignByName(weights, prefixed('net.'), file);
    optimizer.loadState(Object.fromEntries(prefixed('opt.')));
  } finally {
    tf.dispose([...tensors.values()]);
  }
  curves.epochLosses.push(...(meta.epochLosses as number[]));
  curves.stepLosses.push(...(meta.stepLosses as number[]));
  return (meta.epoch as number) + 1;
}
