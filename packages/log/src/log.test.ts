import { describe, expect, it } from 'vitest';
import { createLogger, logTo } from './index.js';

/** A logger whose lines are kept, parsed. */
function collecting(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => lines.push(JSON.parse(line)) };
  return { logger: createLogger({ ...options, destination }), lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line: the level as a word, ISO time, the fields, msg', () => {
    const raw: string[] = [];
    const logger = createLogger({ destination: { write: (line: string) => raw.push(line) } });
    logTo(logger)('warn', 'workload ended', { sweep: 'paper', trial: 'paper-0a1b2c3d4e' });
    expect(raw).toHaveLength(1);
    expect(raw[0]?.endsWith('}\n')).toBe(true);
    expect(raw[0]?.slice(0, -1)).not.toContain('\n');
    const line = JSON.parse(raw[0] as string);
    expect(line).toEqual({
      level: 'warn',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      sweep: 'paper',
      trial: 'paper-0a1b2c3d4e',
      msg: 'workload ended',
    });
  });

  it('puts its fields on every line and leaves out levels below its own', () => {
    const { logger, lines } = collecting({ level: 'warn', fields: { trial: 't-1' } });
    logger.info('started trial');
    logger.warn('skipped a step');
    logTo(logger)('error', 'failed trial', { error: 'diverged' });
    expect(lines.map(({ level, msg, trial }) => ({ level, msg, trial }))).toEqual([
      { level: 'warn', msg: 'skipped a step', trial: 't-1' },
      { level: 'error', msg: 'failed trial', trial: 't-1' },
    ]);
    expect(lines[1]?.error).toBe('diverged');
  });

  it('writes no pid or hostname', () => {
    const { logger, lines } = collecting();
    logger.info('stopped');
    expect(Object.keys(lines[0] ?? {})).toEqual(['level', 'time', 'msg']);
  });
});
