import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { parseCsv } from './csv.js';

export interface Sample {
  /** The path relative to the dataset folder, as written in labels.csv. */
  id: string;
  /** The absolute path of the image file. */
  path: string;
  label: number;
  className?: string;
  /** Patient (or other group) the image belongs to; splits keep a group together. */
  group?: string;
}

export interface SkippedFile {
  /** The path relative to the dataset folder. */
  path: string;
  reason: string;
}

export interface LabelTable {
  folder: string;
  samples: Sample[];
  skipped: SkippedFile[];
}

export interface LabelOptions {
  /** Column holding the integer label. @default 'label' */
  labelColumn?: string;
  /** Column naming each image's patient or group. @default 'patient', else 'group' */
  groupColumn?: string;
}

/** A row of labels.csv before the label column is required (inspection can do without). */
export interface LabelRow {
  id: string;
  path: string;
  label?: number;
  className?: string;
  group?: string;
}

export interface LabelRows {
  folder: string;
  file: string;
  columns: string[];
  /** The label column used; undefined when the file has none. */
  labelColumn?: string;
  groupColumn?: string;
  rows: LabelRow[];
  skipped: SkippedFile[];
}

const SUSPECT_LIST = 'suspect_images.txt';
export const SUSPECT_REASON = `listed in ${SUSPECT_LIST}`;

/**
 * Reads `<folder>/labels.csv` and the optional `<folder>/suspect_images.txt`. Samples named
 * in the suspect list are left out of `samples` and reported in `skipped`.
 */
export function readLabels(folder: string, options: LabelOptions = {}): LabelTable {
  const table = readLabelRows(folder, options);
  if (table.labelColumn === undefined) throw missingLabelColumn(table);
  const samples = table.rows.map((row) => ({ ...row, label: row.label as number }));
  return { folder: table.folder, samples, skipped: table.skipped };
}

export function missingLabelColumn(table: Pick<LabelRows, 'file' | 'columns'>): Error {
  return new Error(
    `${table.file} has no label column (looked for 'label'; pass labelColumn to name another); columns found: ${table.columns.join(', ')}`,
  );
}

/** Like readLabels, but a file without a label column gives rows without labels. */
export function readLabelRows(folder: string, options: LabelOptions = {}): LabelRows {
  const root = resolve(folder);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`dataset folder not found: ${root}`);
  }
  const file = join(root, 'labels.csv');
  if (!existsSync(file)) throw new Error(`labels file not found: ${file}`);
  const { header, rows } = parseCsv(readFileSync(file, 'utf8'), file);

  const findColumn = (wanted: string | undefined, defaults: string[]): number => {
    if (wanted !== undefined) {
      const index = header.indexOf(wanted);
      if (index < 0) {
        throw new Error(`${file} has no column '${wanted}'; columns found: ${header.join(', ')}`);
      }
      return index;
    }
    for (const name of defaults) {
      const index = header.indexOf(name);
      if (index >= 0) return index;
    }
    return -1;
  };
  const pathIndex = findColumn('path', []);
  const labelIndex = findColumn(options.labelColumn, ['label']);
  const groupIndex = findColumn(options.groupColumn, ['patient', 'group']);
  const classNameIndex = header.indexOf('class_name');

  const suspects = readSuspectList(root);
  const parsed: LabelRow[] = [];
  const skipped: SkippedFile[] = [];
  const seen = new Map<string, number>();
  for (const { line, values } of rows) {
    const id = relativePath(values[pathIndex] ?? '', `${file} line ${line}`);
    const firstLine = seen.get(id);
    if (firstLine !== undefined) {
      throw new Error(`${file} line ${line}: '${id}' is listed twice (first on line ${firstLine})`);
    }
    seen.set(id, line);
    if (suspects.has(id)) {
      skipped.push({ path: id, reason: SUSPECT_REASON });
      continue;
    }
    const row: LabelRow = { id, path: join(root, id) };
    if (labelIndex >= 0) row.label = parseLabel(values[labelIndex] ?? '', `${file} line ${line}`);
    const className = classNameIndex >= 0 ? values[classNameIndex]?.trim() : undefined;
    if (className) row.className = className;
    const group = groupIndex >= 0 ? values[groupIndex]?.trim() : undefined;
    if (group) row.group = group;
    parsed.push(row);
  }
  return {
    folder: root,
    file,
    columns: header,
    ...(labelIndex >= 0 ? { labelColumn: header[labelIndex] } : {}),
    ...(groupIndex >= 0 ? { groupColumn: header[groupIndex] } : {}),
    rows: parsed,
    skipped,
  };
}

function parseLabel(text: string, where: string): number {
  const value = text.trim();
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new Error(`${where}: label '${text}' is not an integer >= 0`);
  }
  return Number(value);
}

/** Normalises './a/b.png' and 'a//b.png' to 'a/b.png' so the suspect list and CSV agree. */
function relativePath(text: string, where: string): string {
  const value = text.trim();
  if (value === '') throw new Error(`${where}: empty path`);
  const normalised = posix.normalize(value.replaceAll('\\', '/'));
  if (isAbsolute(value) || normalised === '..' || normalised.startsWith('../')) {
    throw new Error(`${where}: path '${value}' must be relative to the dataset folder`);
  }
  return normalised;
}

function readSuspectList(root: string): Set<string> {
  const file = join(root, SUSPECT_LIST);
  if (!existsSync(file)) return new Set();
  const paths = new Set<string>();
  readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const text = raw.replace(/#.*/, '').trim();
      if (text !== '') paths.add(relativePath(text, `${file} line ${index + 1}`));
    });
  return paths;
}
