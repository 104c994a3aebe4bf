import { Random } from '@masksweep/random';
import { paperStudyConfigs, studyResults } from './src/store/fixtures.test-support.js';
import { summarizeConfig, type StoredSeed } from './src/analysis/config-summary.js';
import { alignPair, pairedDifference } from './src/analysis/paired.js';
const configs = paperStudyConfigs();
const results = studyResults(configs, { sweep: 'p', seeds: 3, images: 40, rng: new Random(1) });
const byKey = new Map<string, StoredSeed[]>();
for (const r of results) {
  const key = r.config!.configKey;
  const s: StoredSeed = { trial: r.trial, seed: r.config!.seed, metrics: r.metrics!, valMetrics: r.valMetrics!, numClasses: 2,
    sampleIds: r.predictions!.map(p => p.sampleId), labels: r.predictions!.map(p => p.label), predictions: r.predictions!.map(p => p.predicted) };
  byKey.set(key, [...(byKey.get(key) ?? []), s]);
}
for (let rep = 0; rep < 4; rep++) {
  let c = process.cpuUsage();
  const preds = [...byKey].map(([k, seeds]) => summarizeConfig(k, seeds, { confidence: 0.95 }).predictions);
  const a = process.cpuUsage(c).user / 1000;
  c = process.cpuUsage();
  for (let i = 0; i < 28; i++) {
    const p = alignPair(preds[i]!, preds[(i + 1) % preds.length]!);
    if (p.ok) pairedDifference(p.pair, 'f1', { numClasses: 2, confidence: 0.95, rng: new Random(i) });
  }
  const b = process.cpuUsage(c).user / 1000;
  console.log(`33 summaries ${a.toFixed(0)} ms cpu, 28 comparisons ${b.toFixed(0)} ms cpu`);
}
