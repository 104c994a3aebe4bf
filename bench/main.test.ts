import { describe, expect, it } from 'vitest';
import { BENCHMARKS, type BenchOutput, runBench } from './main.js';

/** Runs the command line and keeps what it printed. */
async function bench(...argv: string[]) {
  const printed = { log: [] as string[], error: [] as string[] };
  const out: BenchOutput = {
    log: (text) => printed.log.push(text),
    error: (text) => printed.error.push(text),
  };
  const code = await runBench(argv, out);
  return { code, log: printed.log.join('\n'), error: printed.error.join('\n') };
}

describe('npm run bench', () => {
  it('lists every benchmark with what it measures for --help', async () => {
    const { code, log, error } = await bench('--help');
    expect(code).toBe(0);
    expect(error).toBe('');
    for (const [name, { summary }] of Object.entries(BENCHMARKS)) {
      expect(summary).not.toBe('');
      const line = log.split('\n').find((l) => l.startsWith(`  ${name} `));
      expect(line?.slice(2 + name.length).trim()).toBe(summary);
    }
  });

  it('names an unknown benchmark and lists the others, with exit code 2', async () => {
    const { code, log, error } = await bench('nope');
    expect(code).toBe(2);
    expect(log).toBe('');
    expect(error).toMatch(/^unknown benchmark 'nope'\n/);
    expect(error).toContain('  controller  ');
    expect((await bench()).code).toBe(2);
  });

  it("lists a benchmark's options for <name> --help, and names an unknown option", async () => {
    const help = await bench('masks', '--help');
    expect(help.code).toBe(0);
    expect(help.log).toMatch(/^ {2}--seconds +seconds of measurement per setting/m);
    const bad = await bench('masks', '--bogus', '1');
    expect(bad.code).toBe(2);
    expect(bad.error).toMatch(/^Unknown option '--bogus'/);
    expect(bad.error).toContain('--grid');
  });
});
