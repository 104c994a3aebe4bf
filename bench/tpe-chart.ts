/**
 * The figure of `npm run bench -- tpe`: per problem, the regret of the best-so-far (best
 * minus the known optimum, log scale) against the trial number; a line for each sampler's
 * median over seeds and a shaded band for the TPEs' interquartile range. Plain SVG.
 */

export interface CurveSummary {
  q25: number[];
  median: number[];
  q75: number[];
}

const PANEL = { width: 300, height: 200, gapX: 80, gapY: 80, left: 70, top: 60 };
const COLUMNS = 3;
const SERIES: Array<{ key: string; label: string; colour: string; band: boolean; dash?: string }> =
  [
    { key: 'optunaTpe', label: 'Optuna TPE', colour: '#d95f02', band: true },
    { key: 'masksweepTpe', label: 'masksweep TPE', colour: '#1b6ac9', band: true },
    { key: 'optunaRandom', label: 'Optuna random', colour: '#888', band: false, dash: '2 3' },
    { key: 'masksweepRandom', label: 'masksweep random', colour: '#444', band: false, dash: '6 3' },
  ];
const FLOOR = 1e-6;

export function tpeChart(
  results: Array<{ problem: string; curves: Record<string, CurveSummary>; optimum: number }>,
  trials: number,
): { svg: string; width: number; height: number } {
  const rows = Math.ceil(results.length / COLUMNS);
  const width = PANEL.left + COLUMNS * (PANEL.width + PANEL.gapX);
  const height = PANEL.top + rows * (PANEL.height + PANEL.gapY) + 20;
  const parts: string[] = [];
  results.forEach((result, index) => {
    const left = PANEL.left + (index % COLUMNS) * (PANEL.width + PANEL.gapX);
    const top = PANEL.top + Math.floor(index / COLUMNS) * (PANEL.height + PANEL.gapY);
    const regret = (v: number) => Math.log10(Math.max(v - result.optimum, FLOOR));
    const all = Object.values(result.curves).flatMap((s) => [...s.q25, ...s.q75].map(regret));
    const yHigh = Math.ceil(Math.max(...all));
    const yLow = Math.floor(Math.min(...all));
    const x = (trial: number) => left + (PANEL.width * (trial - 1)) / Math.max(trials - 1, 1);
    const y = (log: number) => top + (PANEL.height * (yHigh - log)) / Math.max(yHigh - yLow, 1);
    parts.push(
      `<text x="${left + PANEL.width / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">${result.problem}</text>`,
      `<rect x="${left}" y="${top}" width="${PANEL.width}" height="${PANEL.height}" fill="none" stroke="#999"/>`,
    );
    for (let tick = yLow; tick <= yHigh; tick++) {
      parts.push(
        `<line x1="${left}" x2="${left + PANEL.width}" y1="${y(tick)}" y2="${y(tick)}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end">1e${tick}</text>`,
      );
    }
    for (const trial of [1, 25, 50, 100].filter((t) => t <= trials)) {
      parts.push(
        `<text x="${x(trial)}" y="${top + PANEL.height + 16}" text-anchor="middle">${trial}</text>`,
      );
    }
    for (const series of SERIES) {
      const summary = result.curves[series.key];
      if (!summary || summary.median.length === 0) continue;
      const points = (values: number[]) =>
        values.map((v, i) => `${x(i + 1).toFixed(1)},${y(regret(v)).toFixed(1)}`);
      if (series.band) {
        const band = [...points(summary.q25), ...points(summary.q75).reverse()].join(' ');
        parts.push(`<polygon points="${band}" fill="${series.colour}" fill-opacity="0.18"/>`);
      }
      parts.push(
        `<polyline points="${points(summary.median).join(' ')}" fill="none" stroke="${series.colour}" stroke-width="2"${series.dash ? ` stroke-dasharray="${series.dash}"` : ''}/>`,
      );
    }
  });
  SERIES.forEach((series, i) => {
    const left = PANEL.left + i * 190;
    parts.push(
      `<line x1="${left}" x2="${left + 30}" y1="20" y2="20" stroke="${series.colour}" stroke-width="3"${series.dash ? ` stroke-dasharray="${series.dash}"` : ''}/>`,
      `<text x="${left + 36}" y="24">${series.label}</text>`,
    );
  });
  parts.push(
    `<text x="${width / 2}" y="${height - 8}" text-anchor="middle">trial; y: best-so-far minus the optimum (median over seeds, band: quartiles)</text>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
  return { svg, width, height };
}
