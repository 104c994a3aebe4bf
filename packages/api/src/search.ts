/**
 * A Sweep's search (`spec.search`, docs/search.md): the space the tuner's samplers see, the
 * checks of the space against the trial configs the grids build, and the Trials of one
 * suggestion. The grids give the base configs; a suggestion picks one (the `config`
 * parameter, when there are several) and sets the searched fields on it; each suggestion
 * runs once per seed of the Sweep.
 */
import { getMaskPattern, MaskOptionError, resolveMaskSetting } from '@masksweep/masks';
import {
  type Distribution,
  type JsonValue,
  type Params,
  type SearchParameter,
  searchSpaceProblems,
} from '@masksweep/tuner';
import type { TObject, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AUGMENTATIONS } from './augmentations.js';
import { type SweepProblem, SweepValidationError } from './errors.js';
import {
  configKey,
  countTrials,
  expandSweepCounted,
  pretrainKey,
  type Trial,
  type TrialConfig,
} from './expand.js';
import { canonicalJson, stableHash } from './hash.js';
import { LIMITS } from './limits.js';
import { METHODS, type Method } from './methods.js';
import {
  Augmentation,
  FinetuneStage,
  MaskEntry,
  Model,
  PretrainStage,
  type SweepResource,
} from './schema.js';
import type { SearchParameterSpecType } from './search-schema.js';

/** The categorical parameter that picks a base config when the grids give several. */
export const CONFIG_PARAMETER = 'config';

/** A config of the grids, without its seed: what a suggestion starts from. */
export interface BaseConfig {
  config: Omit<TrialConfig, 'seed'>;
  configKey: string;
  /** The grids that give it (gridName). */
  grids: string[];
}

export interface SearchPlan {
  /** The tuner's space: `config` first when there are several base configs, then the
   * Sweep's parameters in order, each named by its path. */
  space: SearchParameter[];
  /** By configKey, in the grids' order. */
  baseConfigs: Map<string, BaseConfig>;
}

/** A Trial of a suggestion: the values suggested and the suggestion's number. */
export type SampledTrial = Trial & { suggestion: { number: number; params: Params } };

/** The grids' configs without their seeds, each once, in the grids' order. */
export function baseConfigsOf(sweep: SweepResource): Map<string, BaseConfig> {
  const { spec } = sweep;
  const { trials } = expandSweepCounted({
    ...sweep,
    spec: { ...spec, search: undefined, seeds: [spec.seeds[0] as number], maxTrials: undefined },
  });
  const configs = new Map<string, BaseConfig>();
  for (const trial of trials) {
    const { seed: _seed, ...config } = trial.config;
    configs.set(trial.configKey, { config, configKey: trial.configKey, grids: trial.grids });
  }
  return configs;
}

/** The space the samplers search, from a validated Sweep with `spec.search`. */
export function searchPlan(sweep: SweepResource): SearchPlan {
  const baseConfigs = baseConfigsOf(sweep);
  return { space: toSpace(parametersOf(sweep), baseConfigs), baseConfigs };
}

function parametersOf(sweep: SweepResource): SearchParameterSpecType[] {
  const search = sweep.spec.search;
  if (!search) throw new Error(`Sweep ${sweep.metadata.name} has no spec.search`);
  return search.parameters;
}

function toSpace(
  parameters: readonly SearchParameterSpecType[],
  baseConfigs: Map<string, BaseConfig>,
): SearchParameter[] {
  const keys = [...baseConfigs.keys()];
  const several = keys.length > 1;
  const space: SearchParameter[] = several
    ? [{ name: CONFIG_PARAMETER, distribution: { type: 'categorical', choices: keys } }]
    : [];
  for (const parameter of parameters) {
    const when = parameter.when;
    let condition: SearchParameter['when'];
    if (when?.method) {
      const methods: readonly string[] = when.method;
      const matching = keys.filter((key) =>
        methods.includes((baseConfigs.get(key) as BaseConfig).config.method),
      );
      // A condition every base config meets is no condition.
      if (several && matching.length < keys.length)
        condition = { param: CONFIG_PARAMETER, in: matching };
    } else if (when?.param !== undefined) {
      condition = { param: when.param, in: (when.in ?? []) as JsonValue[] };
    }
    space.push({
      name: parameter.path,
      distribution: distributionOf(parameter) as Distribution,
      ...(condition && { when: condition }),
    });
  }
  return space;
}

/** The parameter's distribution, or undefined unless exactly one kind is given. */
function distributionOf(parameter: SearchParameterSpecType): Distribution | undefined {
  const kinds = distributionKinds(parameter);
  if (kinds.length !== 1) return undefined;
  if (parameter.float) return { type: 'float', ...parameter.float };
  if (parameter.int) return { type: 'int', ...parameter.int };
  return { type: 'categorical', choices: (parameter.categorical?.choices ?? []) as JsonValue[] };
}

function distributionKinds(
  parameter: SearchParameterSpecType,
): Array<'float' | 'int' | 'categorical'> {
  return (['float', 'int', 'categorical'] as const).filter((kind) => parameter[kind] !== undefined);
}

/**
 * What is wrong with a Sweep's search, after its schema passed: the budget, each
 * parameter's shape, the space's rules (the tuner's), and each path and value against the
 * trial configs the parameter applies to. Empty without a search.
 */
export function searchProblems(sweep: SweepResource): SweepProblem[] {
  const { spec } = sweep;
  const search = spec.search;
  if (!search) return [];
  const problems: SweepProblem[] = [];
  const at = (index: number, field = '') => `spec.search.parameters[${index}]${field}`;
  const seeds = spec.seeds.length;
  if (spec.maxTrials === undefined) {
    problems.push({
      path: 'spec.maxTrials',
      message: 'is required with spec.search: it bounds the search',
    });
  } else if (spec.maxTrials % seeds !== 0) {
    problems.push({
      path: 'spec.maxTrials',
      message: `with spec.search, must be a multiple of the ${seeds} seeds (each suggestion runs once per seed), got ${spec.maxTrials}`,
    });
  }
  if (search.tpe.group && !search.tpe.multivariate)
    problems.push({
      path: 'spec.search.tpe.group',
      message: 'needs multivariate: true (as in Optuna)',
    });
  const baseCount = countTrials({ ...spec, seeds: [0] });
  if (baseCount > LIMITS.trials) {
    problems.push({
      path: 'spec.grids',
      message: `the grids give ${baseCount} configs to search from, over the limit of ${LIMITS.trials}`,
    });
    return problems;
  }
  let shaped = true;
  search.parameters.forEach((parameter, i) => {
    const kinds = distributionKinds(parameter);
    if (kinds.length !== 1) {
      shaped = false;
      problems.push({
        path: at(i),
        message: `give exactly one of float, int or categorical${kinds.length > 1 ? `, not ${kinds.join(' and ')}` : ''}`,
      });
    }
    const when = parameter.when;
    if (when && (when.method === undefined) === (when.param === undefined)) {
      shaped = false;
      problems.push({ path: at(i, '.when'), message: 'give either method, or param with in' });
    } else if (when?.param !== undefined && when.in === undefined) {
      shaped = false;
      problems.push({ path: at(i, '.when.in'), message: 'is required with when.param' });
    } else if (when?.method !== undefined && when.in !== undefined) {
      shaped = false;
      problems.push({ path: at(i, '.when.in'), message: 'goes with when.param, not when.method' });
    }
  });
  if (!shaped) return problems;

  const baseConfigs = baseConfigsOf(sweep);
  const bases = [...baseConfigs.values()];
  search.parameters.forEach((parameter, i) => {
    const methods: readonly string[] | undefined = parameter.when?.method;
    if (methods && !bases.some((base) => methods.includes(base.config.method))) {
      problems.push({
        path: at(i, '.when.method'),
        message: `no config of the grids has one of these methods (${methods.join(', ')})`,
      });
    }
  });
  if (problems.length > 0) return problems;
  const offset = baseConfigs.size > 1 ? 1 : 0;
  // A parameter the tuner's rules refuse is not checked against the configs as well.
  const refused = new Set<number>();
  // The tuner's rules, its messages' `[k].distribution.low` made `parameters[i].float.low`.
  for (const problem of searchSpaceProblems(toSpace(search.parameters, baseConfigs))) {
    const match = /^\[(\d+)\]\.([^:]*): (.*)$/.exec(problem);
    if (!match) {
      problems.push({ path: 'spec.search.parameters', message: problem });
      continue;
    }
    const index = Number(match[1]) - offset;
    refused.add(index);
    const parameter = search.parameters[index] as SearchParameterSpecType;
    const field = (match[2] as string)
      .replace(/^distribution/, distributionKinds(parameter)[0] as string)
      .replace(/^name$/, 'path');
    problems.push({ path: at(index, `.${field}`), message: match[3] as string });
  }

  // Which base configs each parameter applies to: its methods, or its condition's.
  const applies = new Map<string, BaseConfig[]>();
  const checks: Array<{ index: number; targets: BaseConfig['config'][] }> = [];
  let checkCount = 0;
  search.parameters.forEach((parameter, i) => {
    const when = parameter.when;
    let targets = bases;
    if (when?.method) {
      const methods: readonly string[] = when.method;
      targets = bases.filter((base) => methods.includes(base.config.method));
    } else if (when?.param !== undefined) {
      targets = applies.get(when.param) ?? [];
    }
    applies.set(parameter.path, targets);
    if (refused.has(i)) return;
    const distinct = distinctSections(parameter.path.split('.')[0] as Section, targets);
    checks.push({ index: i, targets: distinct });
    checkCount += distinct.length * valuesToCheck(parameter).length;
  });
  // Each check resolves a stage, network or mask (tens of µs for a mask): bounded, so that
  // a Sweep of many mask values and long choice lists costs what its file costs.
  if (checkCount > LIMITS.searchChecks) {
    problems.push({
      path: 'spec.search.parameters',
      message: `checking the values against the grids' distinct settings takes ${checkCount} checks, over the limit of ${LIMITS.searchChecks}: fewer choices, or fewer mask values in the grids`,
    });
    return problems;
  }
  for (const { index, targets } of checks) {
    const parameter = search.parameters[index] as SearchParameterSpecType;
    problems.push(
      ...parameterProblems(parameter, at(index), targets, spec.datasets.imageSize / 32),
    );
  }
  return problems;
}

/**
 * The configs with distinct settings in a section: a field's checks depend only on its
 * section (and the method, whose network the model is), however many configs share it.
 */
function distinctSections(
  section: Section,
  targets: readonly BaseConfig[],
): BaseConfig['config'][] {
  const distinct = new Map<string, BaseConfig['config']>();
  for (const { config } of targets) {
    const key = `${config.method}:${canonicalJson(config[section])}`;
    if (!distinct.has(key)) distinct.set(key, config);
  }
  return [...distinct.values()];
}

/** The path's and the values' problems in each distinct setting the parameter applies to. */
function parameterProblems(
  parameter: SearchParameterSpecType,
  at: string,
  targets: readonly BaseConfig['config'][],
  gridSize: number,
): SweepProblem[] {
  const [section, field] = parameter.path.split('.') as [Section, string];
  const lacking = new Set<string>();
  const having = new Set<string>();
  const problems = new Map<string, SweepProblem>();
  for (const config of targets) {
    const schema = fieldSchema(config, section, field);
    const who = describe(config, section);
    if (!schema) {
      lacking.add(who);
      continue;
    }
    having.add(who);
    if (parameter.float && schema.type === 'integer') {
      if (problems.has('float')) continue;
      problems.set('float', {
        path: `${at}.float`,
        message: `${parameter.path} takes integers (${who}): search it with int`,
      });
      continue;
    }
    for (const [where, value] of valuesToCheck(parameter)) {
      const message = fieldValueProblem(config, section, field, value, gridSize);
      if (message && !problems.has(where))
        problems.set(where, { path: `${at}${where}`, message: `${who}: ${message}` });
    }
  }
  if (lacking.size > 0) {
    const rest =
      having.size > 0
        ? `; ${[...having].join(', ')} have it: condition the parameter with when`
        : '';
    return [
      {
        path: `${at}.path`,
        message: `${[...lacking].join(', ')} have no ${parameter.path}${rest}`,
      },
    ];
  }
  return [...problems.values()];
}

function valuesToCheck(parameter: SearchParameterSpecType): Array<[string, unknown]> {
  const numeric = parameter.float
    ? ['float', parameter.float]
    : parameter.int
      ? ['int', parameter.int]
      : undefined;
  if (numeric) {
    const [kind, range] = numeric as [string, { low: number; high: number }];
    return [
      [`.${kind}.low`, range.low],
      [`.${kind}.high`, range.high],
    ];
  }
  return (parameter.categorical?.choices ?? []).map((choice, c) => [
    `.categorical.choices[${c}]`,
    choice,
  ]);
}

type Section = 'pretrain' | 'finetune' | 'model' | 'mask' | 'augmentation';

/** How a problem names the configs of a section: `simclr trials`, `square masks`. */
function describe(config: BaseConfig['config'], section: Section): string {
  if (section === 'mask' && config.mask) return `${config.mask.type} masks`;
  if (section === 'augmentation') return `${config.augmentation.type} augmentations`;
  return `${config.method} trials`;
}

/** The schema of a config's field, or undefined when configs like this one have no such field. */
function fieldSchema(
  config: BaseConfig['config'],
  section: Section,
  field: string,
): TSchema | undefined {
  const property = (object: TObject) =>
    Object.hasOwn(object.properties, field) ? (object.properties[field] as TSchema) : undefined;
  switch (section) {
    case 'pretrain':
      return config.pretrain === null ? undefined : property(PretrainStage);
    case 'finetune':
      return property(FinetuneStage);
    case 'model':
      return property(Model.properties[METHODS[config.method as Method].model] as TObject);
    case 'mask': {
      if (config.mask === null || field === 'type') return undefined;
      const pattern = getMaskPattern(config.mask.type);
      if (field === pattern.axis) {
        const list = MaskEntry.properties[field === 'ratio' ? 'ratios' : 'sizes'];
        return (list as unknown as { items: TSchema }).items;
      }
      return property(pattern.options);
    }
    case 'augmentation':
      return field !== 'type' && Object.hasOwn(AUGMENTATIONS[config.augmentation.type], field)
        ? property(Augmentation)
        : undefined;
  }
}

/** Why the value cannot stand at the config's field (its section's own check), if it cannot. */
function fieldValueProblem(
  config: BaseConfig['config'],
  section: Section,
  field: string,
  value: unknown,
  gridSize: number,
): string | undefined {
  const changed = { ...(config[section] as object), [field]: value };
  if (section === 'mask') {
    try {
      resolveMaskSetting(changed as Parameters<typeof resolveMaskSetting>[0], gridSize);
      return undefined;
    } catch (error) {
      // The error's message starts with its field, as the mask registry writes it.
      if (error instanceof MaskOptionError)
        return `mask.${error.field}: ${error.message.slice(error.field.length + 2)}`;
      throw error;
    }
  }
  const schema: TSchema =
    section === 'pretrain'
      ? PretrainStage
      : section === 'finetune'
        ? FinetuneStage
        : section === 'model'
          ? (Model.properties[METHODS[config.method as Method].model] as TSchema)
          : Augmentation;
  const error = Value.Errors(schema, changed).First();
  if (!error) return undefined;
  const where = `${section}${error.path.replace(/\//g, '.')}`;
  return `${where}: ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}; got ${JSON.stringify(value)}`;
}

/**
 * The Trials of one suggestion (a sampler's values, by parameter name): its base config
 * with each suggested value set at its path, once per seed of the Sweep. Named as grid
 * trials are, `<sweep>-<hash of config>`, so the same config and seed is the same trial
 * whoever suggested it; `pretrainKey` is computed from the config as for a grid trial, so
 * suggestions that differ only in fine-tuning values share pre-training runs. Throws when
 * the suggestion does not fit the plan (a config it does not have, a value the field refuses).
 */
export function sampledTrials(
  sweep: SweepResource,
  suggestion: Params,
  suggestionNumber: number,
  plan: SearchPlan = searchPlan(sweep),
): SampledTrial[] {
  const name = sweep.metadata.name;
  const key =
    plan.baseConfigs.size > 1 ? suggestion[CONFIG_PARAMETER] : [...plan.baseConfigs.keys()][0];
  const base = plan.baseConfigs.get(key as string);
  if (!base)
    throw new SweepValidationError(name, [
      {
        path: 'spec.search',
        message: `suggestion ${suggestionNumber} picks no config of the grids: ${JSON.stringify(key)}`,
      },
    ]);
  const config = { ...base.config };
  const gridSize = config.data.imageSize / 32;
  for (const parameter of parametersOf(sweep)) {
    if (!Object.hasOwn(suggestion, parameter.path)) continue;
    const value = suggestion[parameter.path];
    const [section, field] = parameter.path.split('.') as [Section, string];
    const problem = fieldSchema(config, section, field)
      ? fieldValueProblem(config, section, field, value, gridSize)
      : `${describe(config, section)} have no ${parameter.path}`;
    if (problem) {
      throw new SweepValidationError(name, [
        {
          path: 'spec.search',
          message: `suggestion ${suggestionNumber}: ${parameter.path} = ${JSON.stringify(value)}: ${problem}`,
        },
      ]);
    }
    (config as Record<Section, unknown>)[section] = {
      ...(config[section] as object),
      [field]: value,
    };
  }
  return sweep.spec.seeds.map((seed) => {
    const full = { ...config, seed } as TrialConfig;
    const key = pretrainKey(full);
    return {
      name: `${name}-${stableHash(full)}`,
      seed,
      ...(key !== undefined && { pretrainKey: key }),
      configKey: configKey(full),
      config: full,
      grids: base.grids,
      suggestion: { number: suggestionNumber, params: suggestion },
    };
  });
}
