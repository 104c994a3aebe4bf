import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { getMaskPattern, MaskOptionError, resolveMaskSetting } from '@masksweep/masks';
import type { TSchema } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { AUGMENTATIONS } from './augmentations.js';
import { withDefaults } from './defaults.js';
import { formatPath, type SweepProblem, SweepValidationError } from './errors.js';
import { trialLimitProblem } from './expand.js';
import { gridName } from './grids.js';
import { LIMITS } from './limits.js';
import { type DatasetSourceSpec, Sweep, type SweepResource } from './schema.js';
import { searchProblems } from './search.js';

type Keys = Array<string | number>;
type Locate = (keys: Keys) => { line: number; column: number } | undefined;

export interface ValidateOptions {
  /** Where relative dataset paths start (the Sweep file's folder). Default: the working directory. */
  baseDir?: string;
  /** Check that dataset folders exist here. Off for Sweeps whose paths live in a cluster volume. */
  checkData?: boolean;
  /** Name of the input in messages (a file path). */
  source?: string;
  /** Maps a field to its line in the source. */
  locate?: Locate;
}

/** Every problem found, after defaults are filled in; an empty list means the Sweep can run. */
export function findProblems(
  raw: unknown,
  options: ValidateOptions = {},
): { sweep: SweepResource; problems: SweepProblem[] } {
  const sweep = withDefaults(Sweep, structuredClone(raw)) as SweepResource;
  let problems = schemaProblems(Sweep, sweep);
  if (problems.length === 0) problems = semanticProblems(sweep, options);
  const located = problems.map((p) => ({ ...p, ...options.locate?.(parsePath(p.path)) }));
  return { sweep, problems: located };
}

/** The Sweep with defaults filled in; throws SweepValidationError listing every problem. */
export function validateSweep(raw: unknown, options: ValidateOptions = {}): SweepResource {
  const { sweep, problems } = findProblems(raw, options);
  if (problems.length > 0) throw new SweepValidationError(options.source ?? 'sweep', problems);
  return sweep;
}

export interface LoadedSweep {
  sweep: SweepResource;
  /** The folder relative dataset paths resolve against. */
  baseDir: string;
  source: string;
}

/** Reads, parses and validates a Sweep YAML file; errors name the file, line and field. */
export function loadSweepFile(file: string, options: { checkData?: boolean } = {}): LoadedSweep {
  let text: string;
  try {
    // Checked before reading: the parser's cost grows with the file, whatever it holds.
    const { size } = statSync(file);
    if (size > LIMITS.sweepFileBytes) {
      throw new SweepValidationError(file, [
        {
          path: '',
          message: `${size} bytes is over the limit of ${LIMITS.sweepFileBytes} bytes for a Sweep file`,
        },
      ]);
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof SweepValidationError) throw error;
    throw new SweepValidationError(file, [
      { path: '', message: `cannot read: ${(error as Error).message}` },
    ]);
  }
  const { value, locate } = parseSweepYaml(text, file);
  const baseDir = dirname(resolve(file));
  const sweep = validateSweep(value, { ...options, baseDir, source: file, locate });
  return { sweep, baseDir, source: file };
}

/** Parses one YAML document; a syntax error becomes a SweepValidationError with its line. */
export function parseSweepYaml(text: string, source = 'sweep'): { value: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  if (!Array.isArray(documents)) {
    throw new SweepValidationError(source, [{ path: '', message: 'no YAML document found' }]);
  }
  const syntax = documents.flatMap((d) => d.errors);
  if (syntax.length > 0) {
    throw new SweepValidationError(
      source,
      syntax.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return {
          path: '',
          message: `YAML syntax error: ${e.message.split('\n')[0]}`,
          line,
          column: col,
        };
      }),
    );
  }
  const nonEmpty = documents.filter((d) => d.contents !== null);
  if (nonEmpty.length !== 1) {
    throw new SweepValidationError(source, [
      { path: '', message: `expected one YAML document holding a Sweep, found ${nonEmpty.length}` },
    ]);
  }
  const document = nonEmpty[0] as (typeof nonEmpty)[number];
  const locate: Locate = (keys) => {
    // The deepest node that exists: a missing field points at its parent.
    for (let depth = keys.length; depth >= 0; depth--) {
      const prefix = keys.slice(0, depth);
      const node = (prefix.length === 0 ? document.contents : document.getIn(prefix, true)) as
        | YamlNode
        | undefined;
      const offset = node?.range?.[0];
      if (offset !== undefined) {
        const { line, col } = lineCounter.linePos(offset);
        return { line, column: col };
      }
    }
    return undefined;
  };
  return { value: documentValue(document, source), locate };
}

/**
 * The document as plain values. The yaml library refuses a file whose aliases expand more
 * than 100 times (a "billion laughs" bomb) with a ReferenceError: that is the user's file,
 * not a bug, so it is a one-line problem like any other.
 */
function documentValue(document: { toJS(): unknown }, source: string): unknown {
  try {
    return document.toJS();
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      throw new SweepValidationError(source, [
        {
          path: '',
          message: 'YAML aliases expand more than 100 times; write the values out instead',
        },
      ]);
    }
    throw error;
  }
}

function parsePath(path: string): Keys {
  const keys: Keys = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    keys.push(match[2] !== undefined ? Number(match[2]) : (match[1] as string));
  }
  return keys;
}

/**
 * The schema problems listed at most: a file of a million bad values gets the first ones
 * (and a line saying there are more), not a million lines, and costs what its size costs.
 */
const MAX_SCHEMA_PROBLEMS = 50;

function schemaProblems(schema: TSchema, value: unknown): SweepProblem[] {
  const problems = new Map<string, SweepProblem>();
  let more = false;
  for (const error of Value.Errors(schema, value)) {
    const keys = error.path.split('/').slice(1).map(decodePointer);
    const path = formatPath(keys);
    if (problems.has(path)) continue;
    if (problems.size === MAX_SCHEMA_PROBLEMS) {
      more = true;
      break;
    }
    problems.set(path, { path, message: describeError(error) });
  }
  // A problem inside a field makes a problem reported at its parent redundant.
  const paths = [...problems.keys()];
  const listed = [...problems.values()].filter(
    (p) => !paths.some((other) => other.startsWith(`${p.path}.`) || other.startsWith(`${p.path}[`)),
  );
  if (more) {
    listed.push({
      path: '',
      message: 'and more problems, not listed',
    });
  }
  return listed;
}

function decodePointer(segment: string): string | number {
  const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
  return /^\d+$/.test(key) ? Number(key) : key;
}

function describeError(error: ValueError): string {
  const got = JSON.stringify(error.value);
  const choices = (error.schema.anyOf as TSchema[] | undefined)?.map((s) => s.const);
  if (error.type === ValueErrorType.Union && choices?.every((c) => c !== undefined)) {
    return `must be one of ${choices.join(', ')}; got ${got}`;
  }
  if (error.type === ValueErrorType.Literal)
    return `must be ${JSON.stringify(error.schema.const)}; got ${got}`;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return 'unknown field';
  if (error.type === ValueErrorType.ObjectRequiredProperty) return 'is required';
  return `${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}; got ${got}`;
}

function semanticProblems(sweep: SweepResource, options: ValidateOptions): SweepProblem[] {
  const { spec } = sweep;
  const problems: SweepProblem[] = [];
  const add = (keys: Keys, message: string) => problems.push({ path: formatPath(keys), message });

  const splitSum =
    spec.datasets.splits.train + spec.datasets.splits.val + spec.datasets.splits.test;
  if (Math.abs(splitSum - 1) > 1e-9)
    add(['spec', 'datasets', 'splits'], `train + val + test must be 1, got ${splitSum}`);
  for (const role of ['pretrain', 'downstream'] as const) {
    const message = datasetProblem(spec.datasets[role], options);
    if (message) add(['spec', 'datasets', role, ...message.keys], message.text);
  }
  if (new Set(spec.seeds).size !== spec.seeds.length)
    add(['spec', 'seeds'], `seeds repeat: ${spec.seeds.join(', ')}`);

  const gridSize = spec.datasets.imageSize / 32;
  // Counted before any is resolved: past the limit, the values are not checked one by one.
  const maskValues = spec.grids.reduce(
    (sum, grid) =>
      sum + grid.masks.reduce((n, m) => n + (m.ratios?.length ?? 0) + (m.sizes?.length ?? 0), 0),
    0,
  );
  const checkMasks = maskValues <= LIMITS.sweepMaskValues;
  if (!checkMasks)
    add(
      ['spec', 'grids'],
      `the grids list ${maskValues} mask ratios and sizes, over the limit of ${LIMITS.sweepMaskValues} per Sweep`,
    );
  const gridIndexByName = new Map<string, number>();
  spec.grids.forEach((grid, g) => {
    const name = gridName(grid, g);
    const first = gridIndexByName.get(name);
    if (first === undefined) gridIndexByName.set(name, g);
    else
      add(
        ['spec', 'grids', g, 'name'],
        `grid names must be unique: '${name}'${grid.name === undefined ? ' (the default name of this unnamed grid)' : ''} is also the name of spec.grids[${first}]`,
      );
    if (checkMasks)
      grid.masks.forEach((entry, m) => {
        const at: Keys = ['spec', 'grids', g, 'masks', m];
        const pattern = getMaskPattern(entry.type);
        const axisList = pattern.axis === 'ratio' ? 'ratios' : 'sizes';
        const otherList = pattern.axis === 'ratio' ? 'sizes' : 'ratios';
        const { type, ratios, sizes, ...options } = entry;
        if (entry[otherList] !== undefined)
          add([...at, otherList], `mask type '${type}' takes ${axisList}, not ${otherList}`);
        const values = (axisList === 'ratios' ? ratios : sizes) ?? [];
        if (values.length === 0)
          add([...at, axisList], `mask type '${type}' needs a list of ${axisList}`);
        values.forEach((value, v) => {
          try {
            resolveMaskSetting({ type, [pattern.axis]: value, ...options }, gridSize);
          } catch (error) {
            if (!(error instanceof MaskOptionError)) throw error;
            const field = error.field === pattern.axis ? [axisList, v] : [error.field];
            add([...at, ...field], error.message.slice(error.field.length + 2));
          }
        });
      });
    grid.augmentations.forEach((augmentation, a) => {
      const allowed = Object.keys(AUGMENTATIONS[augmentation.type]);
      for (const key of Object.keys(augmentation)) {
        if (key !== 'type' && !allowed.includes(key)) {
          const takes = allowed.length > 0 ? `takes ${allowed.join(', ')}` : 'takes no parameters';
          add(
            ['spec', 'grids', g, 'augmentations', a, key],
            `augmentation '${augmentation.type}' ${takes}`,
          );
        }
      }
      for (const key of ['scale', 'ratio'] as const) {
        const range = augmentation[key];
        if (range && (range[0] as number) > (range[1] as number)) {
          add(
            ['spec', 'grids', g, 'augmentations', a, key],
            `range must be [low, high], got [${range.join(', ')}]`,
          );
        }
      }
    });
  });
  // Counted, not expanded: the grids' size must not cost validation what it would cost to build.
  const overLimit = trialLimitProblem(spec);
  if (overLimit) problems.push(overLimit);
  // The search is checked against the configs the grids build: only once they are sound.
  if (problems.length === 0) problems.push(...searchProblems(sweep));
  return problems;
}

function datasetProblem(
  source: DatasetSourceSpec,
  options: ValidateOptions,
): { keys: Keys; text: string } | undefined {
  if ((source.path === undefined) === (source.phantom === undefined)) {
    return { keys: [], text: 'give exactly one of path or phantom' };
  }
  for (const key of ['lesionRadius', 'lesionContrast'] as const) {
    const range = source.phantom?.[key];
    if (range && (range[0] as number) > (range[1] as number)) {
      return {
        keys: ['phantom', key],
        text: `range must be [low, high], got [${range.join(', ')}]`,
      };
    }
  }
  if (source.path === undefined || !options.checkData) return undefined;
  const folder = resolve(options.baseDir ?? '.', source.path);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    return { keys: ['path'], text: `dataset folder ${folder} does not exist` };
  }
  if (!existsSync(join(folder, 'labels.csv')))
    return { keys: ['path'], text: `${folder} has no labels.csv` };
  return undefined;
}
