import sharp from 'sharp';
import { DecodeError, decodeGray } from './decode.js';
import {
  type LabelOptions,
  type LabelRow,
  missingLabelColumn,
  readLabelRows,
  type SkippedFile,
} from './labels.js';
import { mapConcurrent } from './map-concurrent.js';

export interface SizeSummary {
  min: number;
  median: number;
  max: number;
}

export interface ClassReport {
  /** Undefined when the folder has no label column and classes are told apart by class_name. */
  label?: number;
  /** The class_name values seen for this class (several when a label merges classes). */
  classNames: string[];
  /** Usable images. */
  count: number;
  /** Sizes of the original files, before any resize. */
  width: SizeSummary;
  height: SizeSummary;
}

/** How many usable files have this layout (e.g. grey stored as 3-channel sRGB). */
export interface FormatCount {
  channels: number;
  space: string;
  hasAlpha: boolean;
  count: number;
}

export interface DatasetReport {
  folder: string;
  /** The label column used; undefined when classes come from class_name. */
  labelColumn?: string;
  groupColumn?: string;
  /** Distinct groups (patients) among the usable files; undefined without a group column. */
  groups?: number;
  /** Rows in labels.csv. */
  rows: number;
  usable: number;
  classes: ClassReport[];
  formats: FormatCount[];
  skipped: SkippedFile[];
}

interface FileFacts {
  width: number;
  height: number;
  channels: number;
  space: string;
  hasAlpha: boolean;
}

/**
 * Describes a dataset folder before training: classes and their original image sizes, the
 * channel layouts found, and every file a loader would leave out, with the reason. A folder
 * without a label column is still described per class_name, so a pre-training set whose
 * labels are unused can be checked too.
 */
export async function inspectDataset(
  folder: string,
  options: LabelOptions = {},
): Promise<DatasetReport> {
  const table = readLabelRows(folder, options);
  if (table.labelColumn === undefined && !table.columns.includes('class_name')) {
    throw missingLabelColumn(table);
  }
  const classKey = (row: LabelRow): string =>
    table.labelColumn !== undefined ? `label ${row.label}` : `class ${row.className ?? ''}`;
  const facts = await mapConcurrent(table.rows, (row) => readFacts(row.path));

  const skipped = [...table.skipped];
  const usable: Array<{ row: LabelRow; facts: FileFacts }> = [];
  table.rows.forEach((row, index) => {
    const result = facts[index] as FileFacts | DecodeError;
    if (result instanceof DecodeError) skipped.push({ path: row.id, reason: result.message });
    else usable.push({ row, facts: result });
  });

  const byClass = groupBy(usable, ({ row }) => classKey(row));
  const classes = [...byClass.values()].map((members): ClassReport => {
    const first = (members[0] as (typeof members)[number]).row;
    const names = new Set(members.flatMap(({ row }) => (row.className ? [row.className] : [])));
    return {
      ...(first.label !== undefined ? { label: first.label } : {}),
      classNames: [...names].sort(),
      count: members.length,
      width: summarize(members.map(({ facts }) => facts.width)),
      height: summarize(members.map(({ facts }) => facts.height)),
    };
  });
  classes.sort((a, b) =>
    a.label !== undefined && b.label !== undefined
      ? a.label - b.label
      : String(a.classNames).localeCompare(String(b.classNames)),
  );

  const byFormat = groupBy(
    usable,
    ({ facts }) => `${facts.channels}/${facts.space}/${facts.hasAlpha}`,
  );
  const formats = [...byFormat.values()]
    .map((members): FormatCount => {
      const { channels, space, hasAlpha } = (members[0] as (typeof members)[number]).facts;
      return { channels, space, hasAlpha, count: members.length };
    })
    .sort((a, b) => b.count - a.count);

  const groups = new Set(usable.flatMap(({ row }) => (row.group ? [row.group] : [])));
  return {
    folder: table.folder,
    ...(table.labelColumn !== undefined ? { labelColumn: table.labelColumn } : {}),
    ...(table.groupColumn !== undefined
      ? { groupColumn: table.groupColumn, groups: groups.size }
      : {}),
    rows: table.rows.length + table.skipped.length,
    usable: usable.length,
    classes,
    formats,
    skipped,
  };
}

/**
 * Reads the header facts and also decodes the file: some broken files only fail a full
 * decode, and they must be counted as skipped here just as loadDataset would skip them.
 */
async function readFacts(file: string): Promise<FileFacts | DecodeError> {
  try {
    const metadata = await sharp(file).metadata();
    await decodeGray(file, { size: 8 });
    return {
      width: metadata.width,
      height: metadata.height,
      channels: metadata.channels,
      space: metadata.space,
      hasAlpha: metadata.hasAlpha,
    };
  } catch (error) {
    return error instanceof DecodeError ? error : new DecodeError(file, error);
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const members = groups.get(name);
    if (members) members.push(item);
    else groups.set(name, [item]);
  }
  return groups;
}

function summarize(values: number[]): SizeSummary {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { min: sorted[0] as number, median, max: sorted[sorted.length - 1] as number };
}
