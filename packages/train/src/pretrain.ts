import { type GrayImage, normalize, randomFlip, randomResizedCrop } from '@masksweep/data';
import { createMaskGenerator, type MaskSetting } from '@masksweep/masks';
import { type ConvNeXtConfig, PATCH_SIZE, SparKNetwork } from '@masksweep/models';
import { deriveSeed } from '@masksweep/random';
import { activeBatch, imageBatch } from './batches.js';
import {
  type PretrainRun,
  type PretrainStageOptions,
  pretrainEpochs,
  pretrainImageSize,
} from './pretrain-epochs.js';
import { sparkReconstructionLoss } from './spark-loss.js';

export interface PretrainOptions extends PretrainStageOptions {
  /** `spark` (sparse encoder) or `spark-dense` (the ablation). */
  method: 'spark' | 'spark-dense';
  mask: MaskSetting;
  model: ConvNeXtConfig;
}

export type PretrainResult = PretrainRun<SparKNetwork>;

/** SparK's pre-training pipeline (MMPreTrain): RandomResizedCrop with scale 0.2-1, then flip. */
const PRETRAIN_CROP_SCALE: [number, number] = [0.2, 1];

/**
 * SparK pre-training (docs/algorithms.md#spark): each batch is augmented, masked per image with
 * the trial's mask, reconstructed, and the loss on masked patches drives the optimiser; the
 * epochs, checkpoints and exact resumption are pretrainEpochs'.
 */
export async function pretrainSpark(options: PretrainOptions): Promise<PretrainResult> {
  const { images, seed } = options;
  const size = pretrainImageSize(images);
  const gridSize = size / PATCH_SIZE;
  const masks = createMaskGenerator(options.mask, gridSize);
  const network = new SparKNetwork({ ...options.model, sparse: options.method === 'spark', seed });
  const curves = await pretrainEpochs({
    ...options,
    network,
    stream: 'pretrain',
    startEpoch: (epoch, rng) => {
      const augmentRng = rng.fork('augment');
      const maskRng = rng.fork('mask');
      network.encoder.reseedDropPath(deriveSeed(seed, 'drop-path', epoch));
      return (indices) => {
        const views = indices.map((i) => {
          const crop = randomResizedCrop(images[i] as GrayImage, augmentRng, {
            size,
            scale: PRETRAIN_CROP_SCALE,
          });
          return normalize(randomFlip(crop, augmentRng));
        });
        return {
          loss: () => {
            const x = imageBatch(views);
            const active = activeBatch(masks.generate(indices.length, maskRng), gridSize);
            return sparkReconstructionLoss(
              network.reconstruct(x, active, true),
              x,
              active,
              PATCH_SIZE,
            );
          },
        };
      };
    },
  });
  return { network, ...curves };
}
