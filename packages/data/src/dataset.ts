import { DecodeError, type DecodeOptions, decodeGray } from './decode.js';
import type { GrayImage } from './gray-image.js';
import { type LabelOptions, readLabels, type Sample, type SkippedFile } from './labels.js';
import { mapConcurrent } from './map-concurrent.js';

export type LoadOptions = DecodeOptions & LabelOptions;

export interface LoadedDataset {
  folder: string;
  /** The usable samples; `images[i]` is the decoded `samples[i]`. */
  samples: Sample[];
  images: GrayImage[];
  /** Suspect-listed and undecodable files, with the reason each was left out. */
  skipped: SkippedFile[];
  /** Usable samples per label, in ascending label order. */
  classCounts: Map<number, number>;
}

/**
 * Reads labels.csv and decodes every listed image to one channel at size x size. A file that
 * cannot be decoded is reported in `skipped`, not thrown, so one bad file does not stop a run.
 */
export async function loadDataset(folder: string, options: LoadOptions): Promise<LoadedDataset> {
  const table = readLabels(folder, options);
  const decoded = await mapConcurrent(table.samples, async (sample) => {
    try {
      return await decodeGray(sample.path, options);
    } catch (error) {
      // Only a bad file is skipped; a bad option must still stop the load.
      if (error instanceof DecodeError) return error;
      throw error;
    }
  });
  const samples: Sample[] = [];
  const images: GrayImage[] = [];
  const skipped = [...table.skipped];
  table.samples.forEach((sample, index) => {
    const result = decoded[index] as GrayImage | DecodeError;
    if (result instanceof DecodeError) {
      skipped.push({ path: sample.id, reason: result.message });
    } else {
      samples.push(sample);
      images.push(result);
    }
  });
  return { folder: table.folder, samples, images, skipped, classCounts: countLabels(samples) };
}

export function countLabels(samples: readonly Pick<Sample, 'label'>[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { label } of samples) counts.set(label, (counts.get(label) ?? 0) + 1);
  return new Map([...counts].sort(([a], [b]) => a - b));
}
