import type { ModelSpec, TrialConfig } from '@masksweep/api';
import type { ConvNeXtConfig, ResNetConfig, ResNetDepth, ViTConfig } from '@masksweep/models';

/**
 * A trial's `model` is the section of the Sweep's `model` that its method's network names
 * (METHODS[method].model: convnext, resnet or vit); these read it as the models package's
 * config of that network. Only the method's own network may be asked for.
 */
export function convnextConfig(model: TrialConfig['model']): ConvNeXtConfig {
  return model as ModelSpec['convnext'];
}

export function resnetConfig(model: TrialConfig['model']): ResNetConfig {
  const { depth, widths } = model as ModelSpec['resnet'];
  // The Sweep spells the depth as a string ('18', '50'): YAML and CRD enums are strings.
  return { depth: Number(depth) as ResNetDepth, ...(widths ? { widths } : {}) };
}

export function vitConfig(model: TrialConfig['model']): ViTConfig {
  return model as ModelSpec['vit'];
}
