/**
 * The SQL of one listResults page: filters, the sort key and keyset pagination. A page token
 * holds the last row's (sort value, trial) and a digest of the query it came from, so the
 * next page starts after that row through the sort index, whatever was stored meanwhile.
 */
import { createHash } from 'node:crypto';
import { validationMetricName } from '@masksweep/api/contracts';
import { InvalidRequestError } from '../errors.js';
import {
  CONFIG_FIELD_PREFIX,
  INDEXED_METRIC_COLUMNS,
  VALUE_METRIC_NAMES,
  valueExpression,
} from './schema.js';
import type { ListResultsInput } from './types.js';
import { requireInteger, requireName } from './validate.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const CONFIG_PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;
/** A number as JSON writes one. */
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const COMPARISON = /^(<=|>=|<|>)\s*(\S+)$/;
const FINITE_RANGE = 'BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308';

/**
 * A filter that matches at most this many results of the sweep is where a page starts (its
 * results are read and sorted); a wider one is checked on each row read along the sort
 * order, which then finds a page within a few thousand rows.
 */
export const DRIVING_FILTER_LIMIT = 2000;

/** Where a sort value comes from, and whether it is text or a number. */
type SortKey =
  | { kind: 'column'; sql: string; type: 'number' | 'text' }
  /** A result_values field: a config path (numbers or text) or a metric. */
  | { kind: 'value'; field: string; type: 'number' | 'any' };

/** A filter on one result_values field. */
interface ValueFilter {
  field: string;
  /** The condition with `value` standing for the field's value. */
  condition: (value: string) => string;
}

/** How a listing tells a filter that matches few results (fewer than `limit`). */
export interface FilterCounter {
  limit: number;
  /** How many results a filter's SELECT returns, counting no further than `limit`. */
  count: (filterSql: string, params: Record<string, unknown>) => number;
}

export interface ListQuery {
  /** Parameters of every statement below, by name. */
  params: Record<string, unknown>;
  /** The page's rows, with their sort value as sort_value, and one more to tell if another page follows. */
  pageSql: string;
  /** SELECT count(*) of every row of the listing. */
  countSql: string;
  /** Identifies the listing (namespace, sweep, filters, sort), for tokens and count caching. */
  queryKey: string;
  pageSize: number;
}

interface PageCursor {
  /** Digest of the query. */
  q: string;
  /** Last sort value; null stands for -Infinity (a result without the metric). */
  v: number | string | null;
  /** Last trial. */
  t: string;
}

/** The ranking when a request names none: validation F1, never a test metric. */
export const DEFAULT_SORT = validationMetricName('f1');

/**
 * What a listing sorts by: the trial name, the finish time, a scored test metric by its
 * name (f1, macro_f1, ...) or its validation value (val_f1, ...), or a config path as
 * config.<path>. Anything else is refused rather than sorting every row as if it lacked it.
 */
export const SORT_NAMES: readonly string[] = [
  DEFAULT_SORT,
  ...VALUE_METRIC_NAMES.filter((name) => name.startsWith('val_') && name !== DEFAULT_SORT),
  ...VALUE_METRIC_NAMES.filter((name) => !name.startsWith('val_')),
  'trial',
  'finished_at',
];
const METRIC_FIELDS = new Set(VALUE_METRIC_NAMES);

function sortKey(sortBy: string): SortKey {
  if (sortBy === 'trial') return { kind: 'column', sql: 'r.trial', type: 'text' };
  if (sortBy === 'finished_at') return { kind: 'column', sql: 'r.finished_at_ms', type: 'number' };
  if (Object.hasOwn(INDEXED_METRIC_COLUMNS, sortBy)) {
    const column = INDEXED_METRIC_COLUMNS[sortBy as keyof typeof INDEXED_METRIC_COLUMNS];
    return { kind: 'column', sql: `r.${column}`, type: 'number' };
  }
  if (METRIC_FIELDS.has(sortBy)) return { kind: 'value', field: sortBy, type: 'number' };
  if (sortBy.startsWith(CONFIG_FIELD_PREFIX)) {
    if (!CONFIG_PATH.test(sortBy.slice(CONFIG_FIELD_PREFIX.length))) {
      throw new InvalidRequestError(
        'sort_by',
        `config.<path> needs a dotted path of [A-Za-z0-9_] segments (config.finetune.lr), got ${JSON.stringify(sortBy)}`,
      );
    }
    return { kind: 'value', field: sortBy, type: 'any' };
  }
  throw new InvalidRequestError(
    'sort_by',
    `must be one of ${SORT_NAMES.join(', ')} or config.<path>, got ${JSON.stringify(sortBy)}`,
  );
}

/**
 * A filter's condition from its text: comparisons with numbers joined by commas (a range,
 * `>=0.0001,<0.01`: only numbers match), or a value the field equals (a number, or for a
 * config path also text, `true`, `false` or `null`). `name` prefixes its parameters.
 */
function parseCondition(
  requestField: string,
  text: string,
  numbersOnly: boolean,
  name: string,
  params: Record<string, unknown>,
): ValueFilter['condition'] {
  if (text.startsWith('<') || text.startsWith('>')) {
    const bounds = text.split(',').map((part, i) => {
      const [, operator, number] = COMPARISON.exec(part.trim()) ?? [];
      if (operator === undefined || number === undefined || !NUMBER.test(number)) {
        throw new InvalidRequestError(
          requestField,
          `a range is comparisons (<, <=, >, >=) with numbers joined by commas, e.g. >=0.0001,<0.01; got ${JSON.stringify(text)}`,
        );
      }
      params[`${name}b${i}`] = Number(number);
      return { operator, param: `@${name}b${i}` };
    });
    return (value) =>
      [
        `${value} ${FINITE_RANGE}`,
        ...bounds.map(({ operator, param }) => `${value} ${operator} ${param}`),
      ].join(' AND ');
  }
  if (NUMBER.test(text)) {
    params[`${name}n`] = Number(text);
    if (numbersOnly) return (value) => `${value} = @${name}n`;
    params[`${name}t`] = text;
    return (value) => `${value} IN (@${name}n, @${name}t)`;
  }
  if (numbersOnly) {
    throw new InvalidRequestError(
      requestField,
      `must be a number or a range (>=0.8, >0.5,<=0.9), got ${JSON.stringify(text)}`,
    );
  }
  params[`${name}t`] = text;
  return (value) => `${value} = @${name}t`;
}

function sortedEntries(map: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function parseFilters(request: ListResultsInput, params: Record<string, unknown>): ValueFilter[] {
  const filters: ValueFilter[] = [];
  for (const [path, value] of sortedEntries(request.configFilter)) {
    const requestField = `config_filter.${path}`;
    if (!CONFIG_PATH.test(path)) {
      throw new InvalidRequestError(
        requestField,
        'the key must be a dotted path of [A-Za-z0-9_] segments, e.g. mask.ratio',
      );
    }
    if (typeof value !== 'string') {
      throw new InvalidRequestError(requestField, `must be text, got ${String(value)}`);
    }
    const name = `f${filters.length}`;
    const condition = parseCondition(requestField, value, false, name, params);
    filters.push({ field: `${CONFIG_FIELD_PREFIX}${path}`, condition });
  }
  for (const [metric, value] of sortedEntries(request.metricFilter)) {
    const requestField = `metric_filter.${metric}`;
    if (!METRIC_FIELDS.has(metric)) {
      throw new InvalidRequestError(
        requestField,
        `the key must be one of ${[...METRIC_FIELDS].join(', ')}`,
      );
    }
    if (typeof value !== 'string') {
      throw new InvalidRequestError(requestField, `must be text, got ${String(value)}`);
    }
    const name = `f${filters.length}`;
    filters.push({
      field: metric,
      condition: parseCondition(requestField, value, true, name, params),
    });
  }
  return filters;
}

/**
 * The SQL of one page. With a sweep, a filter that matches few results (fewer than the
 * counter's limit, DRIVING_FILTER_LIMIT in the store) is where the page starts; otherwise the page is
 * read along the sort order: a metric column's index, or result_values for the other
 * metrics and config paths. Every plan gives the same rows and sort values.
 */
export function buildListQuery(request: ListResultsInput, counter?: FilterCounter): ListQuery {
  const namespace = requireName('namespace', request.namespace);
  const sweep = request.sweep ? requireName('sweep', request.sweep) : undefined;
  const sortBy = request.sortBy || DEFAULT_SORT;
  const sort = sortKey(sortBy);
  const ascending = request.ascending === true;
  const pageSize =
    request.pageSize === undefined || request.pageSize === 0
      ? DEFAULT_PAGE_SIZE
      : requireInteger('page_size', request.pageSize, 1, MAX_PAGE_SIZE);

  const params: Record<string, unknown> = { namespace };
  if (sweep !== undefined) params.sweep = sweep;
  const filters = parseFilters(request, params);
  const queryKey = createHash('sha256')
    .update(
      JSON.stringify([
        namespace,
        sweep ?? '',
        sortedEntries(request.configFilter),
        sortedEntries(request.metricFilter),
        sortBy,
        ascending,
      ]),
    )
    .digest('base64url')
    .slice(0, 16);

  const sweepOf = (alias: string) =>
    `${alias}namespace = @namespace${sweep === undefined ? '' : ` AND ${alias}sweep = @sweep`}`;
  const valuesOf = (filter: ValueFilter, fieldParam: string) => {
    params[fieldParam] = filter.field;
    return `SELECT trial FROM result_values WHERE ${sweepOf('')} AND field = @${fieldParam} AND ${filter.condition('value')}`;
  };
  const driving = (() => {
    if (sweep === undefined || counter === undefined) return undefined;
    let best: { filter: ValueFilter; count: number } | undefined;
    filters.forEach((filter, i) => {
      if (sort.kind === 'value' && filter.field === sort.field) return;
      const count = counter.count(valuesOf(filter, `field${i}`), params);
      if (count < counter.limit && (best === undefined || count < best.count)) {
        best = { filter, count };
      }
    });
    return best?.filter;
  })();

  let from: string;
  let sortSql: string;
  let trialSql = 'r.trial';
  let alongValues = false;
  const where: string[] = [];
  if (driving !== undefined) {
    from = `(${valuesOf(driving, 'drivingField')}) d CROSS JOIN results r ON r.namespace = @namespace AND r.trial = d.trial`;
    where.push('r.namespace = @namespace');
    sortSql = sort.kind === 'column' ? sort.sql : valueExpression(sort.field);
    if (sort.kind === 'value') where.push(`${sortSql} IS NOT NULL`);
  } else if (sort.kind === 'value' && sweep !== undefined) {
    // Along result_values' key (sweep, field, value, trial): the page's rows come in order.
    params.sortField = sort.field;
    from =
      'result_values v CROSS JOIN results r ON r.namespace = v.namespace AND r.trial = v.trial';
    where.push(`${sweepOf('v.')} AND v.field = @sortField`);
    sortSql = 'v.value';
    trialSql = 'v.trial';
    alongValues = true;
  } else {
    // A column's index, or across a namespace every row's value read and sorted (a scan).
    from = 'results r';
    where.push(sweepOf('r.'));
    sortSql = sort.kind === 'column' ? sort.sql : valueExpression(sort.field);
    if (sort.kind === 'value') where.push(`${sortSql} IS NOT NULL`);
  }
  for (const filter of filters) {
    if (filter === driving) continue;
    const onSortValues = alongValues && sort.kind === 'value' && filter.field === sort.field;
    where.push(filter.condition(onSortValues ? 'v.value' : valueExpression(filter.field)));
  }
  // Within a sweep, filtered listings are counted in result_values' key alone: the trials
  // of each filter, and of a config sort's path unless a filter is on it (a filter's
  // matches have the path), intersected; no result row is read.
  const countedSets = filters.map((filter, i) => valuesOf(filter, `field${i}`));
  const sortPathFiltered = filters.some(
    (filter) => sort.kind === 'value' && filter.field === sort.field,
  );
  if (sort.kind === 'value' && sort.field.startsWith(CONFIG_FIELD_PREFIX) && !sortPathFiltered) {
    params.sortField = sort.field;
    countedSets.push(`SELECT trial FROM result_values WHERE ${sweepOf('')} AND field = @sortField`);
  }
  const countSql =
    sweep !== undefined && countedSets.length > 0
      ? `SELECT count(*) AS count FROM (${countedSets.join(' INTERSECT ')})`
      : `SELECT count(*) AS count FROM ${from} WHERE ${where.join(' AND ')}`;

  const pageWhere = [...where];
  if (request.pageToken) {
    const cursor = decodeCursor(request.pageToken, queryKey, sort.type);
    params.afterValue = cursor.v === null ? -Infinity : cursor.v;
    params.afterTrial = cursor.t;
    const after = ascending ? '>' : '<';
    pageWhere.push(
      sortBy === 'trial'
        ? `r.trial ${after} @afterTrial`
        : `(${sortSql}, ${trialSql}) ${after} (@afterValue, @afterTrial)`,
    );
  }
  const direction = ascending ? 'ASC' : 'DESC';
  const order =
    sortBy === 'trial'
      ? `r.trial ${direction}`
      : `${sortSql} ${direction}, ${trialSql} ${direction}`;
  const pageSql = `SELECT r.*, ${sortSql} AS sort_value FROM ${from} WHERE ${pageWhere.join(' AND ')} ORDER BY ${order} LIMIT ${pageSize + 1}`;
  return {
    params,
    pageSql,
    countSql,
    queryKey,
    pageSize,
  };
}

export function encodeCursor(queryKey: string, value: number | string, trial: string): string {
  const cursor: PageCursor = {
    q: queryKey,
    v: value === Number.NEGATIVE_INFINITY ? null : value,
    t: trial,
  };
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(token: string, queryKey: string, type: SortKey['type']): PageCursor {
  const refuse = (why: string): never => {
    throw new InvalidRequestError('page_token', `${why}: ${JSON.stringify(token.slice(0, 100))}`);
  };
  if (!/^[A-Za-z0-9_-]+$/.test(token)) refuse('is not a token from listResults');
  let cursor: unknown;
  try {
    cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    refuse('is not a token from listResults');
  }
  const { q, v, t } = (cursor ?? {}) as Partial<PageCursor>;
  const valueFits =
    type === 'text'
      ? typeof v === 'string'
      : typeof v === 'number' || v === null || (type === 'any' && typeof v === 'string');
  if (typeof q !== 'string' || typeof t !== 'string' || !valueFits) {
    refuse('is not a token from listResults');
  }
  if (q !== queryKey) {
    refuse('belongs to another listing (namespace, sweep, filter or sort changed)');
  }
  return cursor as PageCursor;
}
