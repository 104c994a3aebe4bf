/**
 * The SQL of one listResults page: filters, the sort key and keyset pagination. A page token
 * holds the last row's (sort value, trial) and a digest of the query it came from, so the
 * next page starts after that row through the sort index, whatever was stored meanwhile.
 */
import { createHash } from 'node:crypto';
import { metricName, validatedMetricOf, validationMetricName } from '@masksweep/api/contracts';
import { METRIC_NAMES } from '@masksweep/stats';
import { InvalidRequestError } from '../errors.js';
import { configPathExpression, INDEXED_METRIC_COLUMNS } from './schema.js';
import type { ListResultsInput } from './types.js';
import { requireInteger, requireName } from './validate.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const CONFIG_PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

/** Where a sort value comes from, and whether it is text or a number. */
interface SortKey {
  sql: string;
  type: 'number' | 'text';
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
 * name (f1, macro_f1, ...) or its validation value (val_f1, ...). Anything else is refused
 * rather than sorting every row as if it lacked the metric.
 */
export const SORT_NAMES: readonly string[] = [
  DEFAULT_SORT,
  ...METRIC_NAMES.map(validationMetricName).filter((name) => name !== DEFAULT_SORT),
  ...METRIC_NAMES.map(metricName),
  'trial',
  'finished_at',
];
const SORTABLE = new Set(SORT_NAMES);

/**
 * A sort name's key: `val_<metric>` is a validation metric, another metric name a test
 * metric; `@sortPath` is the metric's JSON path when it has no indexed column.
 */
function sortKey(sortBy: string): SortKey & { path?: string } {
  if (sortBy === 'trial') return { sql: 'trial', type: 'text' };
  if (sortBy === 'finished_at') return { sql: 'finished_at_ms', type: 'number' };
  if (Object.hasOwn(INDEXED_METRIC_COLUMNS, sortBy)) {
    return {
      sql: INDEXED_METRIC_COLUMNS[sortBy as keyof typeof INDEXED_METRIC_COLUMNS],
      type: 'number',
    };
  }
  if (!SORTABLE.has(sortBy)) {
    throw new InvalidRequestError(
      'sort_by',
      `must be one of ${SORT_NAMES.join(', ')}, got ${JSON.stringify(sortBy)}`,
    );
  }
  const validated = validatedMetricOf(sortBy);
  const column = validated === undefined ? 'metrics_json' : 'val_metrics_json';
  // Other metrics are read from the JSON: correct, but without an index.
  return {
    sql: `coalesce(${column} ->> @sortPath, -9e999)`,
    type: 'number',
    path: `$."${validated ?? sortBy}"`,
  };
}

export function buildListQuery(request: ListResultsInput): ListQuery {
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
  if (sort.path !== undefined) params.sortPath = sort.path;
  const where = ['namespace = @namespace'];
  if (sweep !== undefined) {
    where.push('sweep = @sweep');
    params.sweep = sweep;
  }
  const filters = Object.entries(request.configFilter ?? {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  filters.forEach(([path, value], i) => {
    if (!CONFIG_PATH.test(path)) {
      throw new InvalidRequestError(
        `config_filter.${path}`,
        'the key must be a dotted path of [A-Za-z0-9_] segments, e.g. mask.ratio',
      );
    }
    if (typeof value !== 'string') {
      throw new InvalidRequestError(`config_filter.${path}`, `must be text, got ${String(value)}`);
    }
    // `->` gives the value's JSON text (numbers as written, strings quoted): a value matches
    // when that text, or the string itself, equals the filter value. The path is spelled
    // out (it is checked above) so that SQLite can use the indexes on common paths.
    where.push(`${configPathExpression(path)} IN (@value${i}, json_quote(@value${i}))`);
    params[`value${i}`] = value;
  });
  const queryKey = createHash('sha256')
    .update(JSON.stringify([namespace, sweep ?? '', filters, sortBy, ascending]))
    .digest('base64url')
    .slice(0, 16);
  const countSql = `SELECT count(*) AS count FROM results WHERE ${where.join(' AND ')}`;

  const pageWhere = [...where];
  if (request.pageToken) {
    const cursor = decodeCursor(request.pageToken, queryKey, sort.type);
    params.afterValue = cursor.v === null ? -Infinity : cursor.v;
    params.afterTrial = cursor.t;
    const after = ascending ? '>' : '<';
    pageWhere.push(
      sortBy === 'trial'
        ? `trial ${after} @afterTrial`
        : `(${sort.sql}, trial) ${after} (@afterValue, @afterTrial)`,
    );
  }
  const direction = ascending ? 'ASC' : 'DESC';
  const order =
    sortBy === 'trial' ? `trial ${direction}` : `${sort.sql} ${direction}, trial ${direction}`;
  const pageSql = `SELECT *, ${sort.sql} AS sort_value FROM results WHERE ${pageWhere.join(' AND ')} ORDER BY ${order} LIMIT ${pageSize + 1}`;
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
  const valueFits = type === 'text' ? typeof v === 'string' : typeof v === 'number' || v === null;
  if (typeof q !== 'string' || typeof t !== 'string' || !valueFits) {
    refuse('is not a token from listResults');
  }
  if (q !== queryKey) {
    refuse('belongs to another listing (namespace, sweep, filter or sort changed)');
  }
  return cursor as PageCursor;
}
