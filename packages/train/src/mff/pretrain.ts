import { type GrayImage, normalize, randomFlip } from '@masksweep/data';
import { MffNetwork, removedMap, type ViTConfig } from '@masksweep/models';
import { imageBatch } from '../batches.js';
import { VIT_NO_DECAY_NAMES } from '../optimizers.js';
import {
  type PretrainRun,
  type PretrainStageOptions,
  pretrainEpochs,
  pretrainImageSize,
} from '../pretrain-epochs.js';
import { randomCropReflectPadded } from './augment.js';
import { maeReconstructionLoss } from './loss.js';

/** MAE's AdamW betas (0.9, 0.95); LAMB's default is the same. */
export const MAE_BETAS: readonly [number, number] = [0.9, 0.95];

export interface MffPretrainOptions extends Omit<PretrainStageOptions, 'onEpoch'> {
  model: ViTConfig;
  onEpoch?: (event: { epoch: number; meanLoss: number; fusionWeights: number[] }) => void;
}

export type MffPretrainResult = PretrainRun<MffNetwork>;

/**
 * The fusion weights as step metrics, keyed by the fused block (0-based):
 * `fusion_weight_<block>`.
 */
function fusionWeightMetrics(network: MffNetwork): Record<string, number> {
  const weights = network.fusionWeights();
  return Object.fromEntries(
    network.fusionLayers.map((block, k) => [`fusion_weight_${block}`, weights[k] as number]),
  );
}

/**
 * MFF pre-training (docs/algorithms.md#mff): each batch is cropped from its reflect-padded image
 * and flipped, normalised, masked with MAE's random mask (75 % by default), encoded on its
 * visible tokens, fused and decoded; the normalised-pixel loss on the removed patches drives
 * the optimiser. Each step event carries the fusion weights its forward used
 * (`fusionWeightMetrics`); the epochs, checkpoints and exact resumption are pretrainEpochs'.
 */
export async function pretrainMff(options: MffPretrainOptions): Promise<MffPretrainResult> {
  const { images, seed } = options;
  const size = pretrainImageSize(images);
  const network = new MffNetwork({ ...options.model, imageSize: size, seed });
  const { patchSize } = options.model;
  const curves = await pretrainEpochs({
    ...options,
    network,
    stream: 'pretrain',
    optimizerGroups: { noDecayNames: VIT_NO_DECAY_NAMES, betas: MAE_BETAS },
    onEpoch: ({ epoch, meanLoss }) =>
      options.onEpoch?.({ epoch, meanLoss, fusionWeights: network.fusionWeights() }),
    startEpoch: (_epoch, rng) => {
      const augmentRng = rng.fork('augment');
      const maskRng = rng.fork('mask');
      return (indices) => {
        const views = indices.map((i) =>
          normalize(
            randomFlip(randomCropReflectPadded(images[i] as GrayImage, augmentRng), augmentRng),
          ),
        );
        const mask = network.drawMask(indices.length, maskRng);
        return {
          loss: () => {
            const x = imageBatch(views);
            return maeReconstructionLoss(
              network.reconstruct(x, mask, true),
              x,
              removedMap(mask),
              patchSize,
            );
          },
          // Read before the update: the weights this step's forward fuses with.
          extra: fusionWeightMetrics(network),
        };
      };
    },
  });
  return { network, ...curves };
}
