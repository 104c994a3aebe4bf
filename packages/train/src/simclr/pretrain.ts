import { type GrayImage, normalize } from '@masksweep/data';
import { type SimCLRConfig, SimCLRNetwork } from '@masksweep/models';
import { imageBatch } from '../batches.js';
import {
  type PretrainRun,
  type PretrainStageOptions,
  pretrainEpochs,
  pretrainImageSize,
} from '../pretrain-epochs.js';
import { ntXentLoss, SIMCLR_TEMPERATURE } from './nt-xent.js';
import { type SimclrViewOptions, simclrViews } from './views.js';

/** `stage` is MMPreTrain's recipe: LARS, lr 0.3 x batch / 256, weight decay 1e-6, warm-up, cosine. */
export interface SimclrPretrainOptions extends PretrainStageOptions {
  /** The ResNet and its projection neck. */
  model: Omit<SimCLRConfig, 'seed'>;
  /** NT-Xent's temperature. @default SIMCLR_TEMPERATURE (0.1) */
  temperature?: number;
  /** The two-view augmentation; the output size is the images' own. */
  views?: Omit<SimclrViewOptions, 'size'>;
}

/** Its network's `encoder.*` weights are the backbone fine-tuning loads (ResNetClassifier.loadEncoder). */
export type SimclrPretrainResult = PretrainRun<SimCLRNetwork>;

/**
 * SimCLR pre-training (docs/algorithms.md#simclr): each image of a batch gives two augmented views,
 * both go through the ResNet and the neck together (rows 2k and 2k + 1 are image k's), and
 * NT-Xent over the 2N embeddings drives the optimizer; the epochs, checkpoints and exact
 * resumption are pretrainEpochs'.
 */
export async function runSimclrPretraining(
  options: SimclrPretrainOptions,
): Promise<SimclrPretrainResult> {
  const { images, seed } = options;
  const size = pretrainImageSize(images);
  const temperature = options.temperature ?? SIMCLR_TEMPERATURE;
  const network = new SimCLRNetwork({ ...options.model, seed });
  const curves = await pretrainEpochs({
    ...options,
    network,
    stream: 'simclr',
    startEpoch: (_epoch, rng) => {
      const viewRng = rng.fork('views');
      return (indices) => {
        const views = indices.flatMap((i) =>
          simclrViews(images[i] as GrayImage, viewRng, { ...options.views, size }).map((view) =>
            normalize(view),
          ),
        );
        return { loss: () => ntXentLoss(network.embed(imageBatch(views), true), temperature) };
      };
    },
  });
  return { network, ...curves };
}
