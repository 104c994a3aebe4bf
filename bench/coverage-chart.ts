/**
 * The figure of docs/statistics.md: coverage of the 95 % interval against the number of
 * seeds, one panel per test-set design, one colour per test-set size; solid lines the
 * hierarchical bootstrap, dotted the Student-t interval over seeds. Plain SVG, no library.
 */

export interface CoveragePoint {
  seeds: number;
  images: number;
  data: 'per-seed' | 'shared';
  coverage: number;
  studentCoverage?: number;
}

const WIDTH = 760;
const HEIGHT = 350;
const PANEL = { width: 300, height: 220, top: 50, left: [70, 430] };
const COLOURS: Record<number, string> = { 20: '#d95f02', 40: '#1b9e77', 100: '#7570b3' };
const TITLES = {
  'per-seed': 'each seed tested on its own images',
  shared: 'all seeds tested on one shared set',
};

export function coverageChart(points: CoveragePoint[], caption: string): string {
  const seeds = [...new Set(points.map((p) => p.seeds))].sort((a, b) => a - b);
  const sizes = [...new Set(points.map((p) => p.images))].sort((a, b) => a - b);
  const values = points.flatMap((p) => [p.coverage, p.studentCoverage ?? 1]);
  const low = Math.min(0.75, Math.floor(Math.min(...values) * 20) / 20);
  const y = (coverage: number) => PANEL.top + PANEL.height * (1 - (coverage - low) / (1 - low));
  const parts: string[] = [];
  (['per-seed', 'shared'] as const).forEach((data, panel) => {
    const left = PANEL.left[panel] as number;
    const x = (seedCount: number) =>
      left + (PANEL.width * seeds.indexOf(seedCount)) / Math.max(seeds.length - 1, 1);
    parts.push(
      `<text x="${left + PANEL.width / 2}" y="${PANEL.top - 14}" text-anchor="middle" font-weight="bold">${TITLES[data]}</text>`,
      `<rect x="${left}" y="${PANEL.top}" width="${PANEL.width}" height="${PANEL.height}" fill="none" stroke="#999"/>`,
    );
    for (let tick = low; tick <= 1.0001; tick += 0.05) {
      parts.push(
        `<line x1="${left}" x2="${left + PANEL.width}" y1="${y(tick)}" y2="${y(tick)}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end">${Math.round(tick * 100)} %</text>`,
      );
    }
    parts.push(
      `<line x1="${left}" x2="${left + PANEL.width}" y1="${y(0.95)}" y2="${y(0.95)}" stroke="#000" stroke-dasharray="6 4"/>`,
    );
    for (const seedCount of seeds) {
      parts.push(
        `<text x="${x(seedCount)}" y="${PANEL.top + PANEL.height + 18}" text-anchor="middle">${seedCount}</text>`,
      );
    }
    parts.push(
      `<text x="${left + PANEL.width / 2}" y="${PANEL.top + PANEL.height + 38}" text-anchor="middle">seeds</text>`,
    );
    for (const images of sizes) {
      const row = points
        .filter((p) => p.data === data && p.images === images)
        .sort((a, b) => a.seeds - b.seeds);
      const line = (pick: (p: CoveragePoint) => number | undefined, dash: string) => {
        const drawn = row.filter((p) => pick(p) !== undefined);
        const path = drawn.map((p) => `${x(p.seeds)},${y(pick(p) as number)}`).join(' ');
        parts.push(
          `<polyline points="${path}" fill="none" stroke="${COLOURS[images] ?? '#333'}" stroke-width="2"${dash}/>`,
          ...drawn.map(
            (p) =>
              `<circle cx="${x(p.seeds)}" cy="${y(pick(p) as number)}" r="3" fill="${COLOURS[images] ?? '#333'}"/>`,
          ),
        );
      };
      line((p) => p.coverage, '');
      line((p) => (p.seeds > 1 ? p.studentCoverage : undefined), ' stroke-dasharray="2 3"');
    }
  });
  const legend = sizes.map(
    (images, i) =>
      `<line x1="${70 + i * 130}" x2="${100 + i * 130}" y1="${HEIGHT - 34}" y2="${HEIGHT - 34}" stroke="${COLOURS[images] ?? '#333'}" stroke-width="2"/><text x="${106 + i * 130}" y="${HEIGHT - 30}">${images} test images</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="16" text-anchor="middle">${caption}</text>`,
    ...parts,
    ...legend,
    `<text x="70" y="${HEIGHT - 10}">solid: hierarchical bootstrap · dotted: Student-t interval over seeds (2 seeds or more) · dashed: 95 %</text>`,
    '</svg>',
    '',
  ].join('\n');
}
