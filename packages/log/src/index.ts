/**
 * The one logger of masksweep's processes (masksweep-controller, masksweep-leaderboard,
 * masksweep-trial): pino, one JSON object per line on stderr, as
 * `{"level":"info","time":"<ISO 8601>",...fields,"msg":"..."}`. The level stays a word
 * (pino writes a number by default): tests, the controller bench and `grep '"level":"error"'`
 * read it. Messages say what happened (`deleted job`, `pruned trial`); names and numbers go
 * in fields (`sweep`, `trial`, `namespace`, `job`, `error`) so lines can be filtered on them.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * How libraries log (the controller, the leaderboard's ingest): a function, so that they do
 * not depend on pino and tests can collect the lines; {@link logTo} makes one from a Logger.
 */
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface CreateLoggerOptions {
  /** The least level written. @default 'info' */
  level?: LogLevel;
  /** Fields on every line, such as the trial of a trial-runner. @default none */
  fields?: Record<string, unknown>;
  /**
   * Where lines go. @default process.stderr, whose writes to pipes and files are synchronous:
   * no line is lost when the process exits, and a write to a closed pipe fails as before.
   */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      // No pid or hostname on every line: the pod's metadata or the log file name tells them.
      base: options.fields ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stderr,
  );
}

/** A {@link Log} writing to `logger`. */
export function logTo(logger: Logger): Log {
  return (level, message, fields = {}) => logger[level](fields, message);
}
