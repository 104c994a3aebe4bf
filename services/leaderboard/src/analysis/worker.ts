/**
 * The statistics worker thread (./pool.ts). It reads what a task needs through its own
 * read-only connection to the store's SQLite file (WAL lets it read while the main thread
 * writes), in one read transaction, and computes from it; the main thread only checks the
 * request. Errors the caller can act on travel back as data, since a thread boundary keeps
 * an Error's message but not its class or field.
 */
import type { CompareConfigsResponse } from '@masksweep/proto';
import Database from 'better-sqlite3';
import { InvalidRequestError, LeaderboardError, NotFoundError } from '../errors.js';
import { prepareStatements, type Statements } from '../store/statements.js';
import type { CompareConfigsInput, SweepSummaryInput } from '../store/types.js';
import { readComparison } from './compare.js';
import { computeComparison } from './paired.js';
import { type PackedSummary, packSummary } from './summary-transfer.js';
import { SweepSummaries } from './sweep-summary.js';

export type StatisticsTask =
  | { kind: 'compare'; database: string; request: CompareConfigsInput }
  | { kind: 'summary'; database: string; request: SweepSummaryInput };

/** A request error raised in the worker, for the main thread to raise again. */
export interface TaskRefusal {
  refused: 'not_found' | 'invalid';
  field: string;
  /** The message without its `field: ` prefix. */
  reason: string;
}

export type TaskOutcome<T> = { answer: T } | TaskRefusal;

interface Connection {
  db: Database.Database;
  statements: Statements;
  /** This worker's summaries, brought up to date incrementally as on the main thread. */
  summaries: SweepSummaries;
}

/** One connection per database for the worker's life (a worker serves one store). */
const connections = new Map<string, Connection>();

function connection(path: string): Connection {
  let open = connections.get(path);
  if (!open) {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const statements = prepareStatements(db);
    open = { db, statements, summaries: new SweepSummaries(statements) };
    connections.set(path, open);
  }
  return open;
}

export default function runStatisticsTask(
  task: StatisticsTask,
): TaskOutcome<CompareConfigsResponse | PackedSummary> {
  try {
    const { db, statements, summaries } = connection(task.database);
    switch (task.kind) {
      case 'compare': {
        // One snapshot: both configs' predictions as of the same committed write.
        const comparison = db.transaction(() => readComparison(statements, task.request))();
        return { answer: computeComparison(comparison) };
      }
      case 'summary':
        // In slices, for the event loop to read one per turn (./summary-transfer.ts).
        return { answer: packSummary(db.transaction(() => summaries.get(task.request))()) };
    }
  } catch (error) {
    if (!(error instanceof LeaderboardError)) throw error;
    return {
      refused: error instanceof NotFoundError ? 'not_found' : 'invalid',
      field: error.field,
      reason: error.message.slice(error.field.length + 2),
    };
  }
}

/** The answer, or the refusal raised again as the error it was. */
export function taskAnswer<T>(outcome: TaskOutcome<T>): T {
  if ('answer' in outcome) return outcome.answer;
  throw outcome.refused === 'not_found'
    ? new NotFoundError(outcome.field, outcome.reason)
    : new InvalidRequestError(outcome.field, outcome.reason);
}
