/**
 * The frame of every page: its head, style sheet, navigation and, on pages with curves or
 * live updates, the boot data and the client script under the response's CSP nonce.
 */
import { readFileSync } from 'node:fs';
import type { Boot } from './client/contract.js';
import { html, jsonForScript, SafeHtml, segment } from './html.js';

/**
 * client/live.js, type-checked by its own project and emitted beside this module by the
 * build (dist/web/client/live.js), so the source and the built server each find theirs.
 */
const CLIENT_SCRIPT = loadClientScript(new URL('./client/live.js', import.meta.url));

function loadClientScript(file: URL): SafeHtml {
  const script = readFileSync(file, 'utf8');
  // Inlined into <script>: its text must not end the element early.
  if (/<\/script|<!--/i.test(script)) throw new Error(`${file.pathname} contains </script or <!--`);
  return new SafeHtml(script);
}

// Eleven steps of a white-to-blue scale for the heat map (ColorBrewer Blues, interpolated).
const HEAT_COLOURS = [
  '#f7fbff',
  '#e3eef9',
  '#cfe1f2',
  '#b5d4e9',
  '#93c3df',
  '#6daed5',
  '#4b97c9',
  '#2f7ebc',
  '#1864aa',
  '#0a4a90',
  '#08306b',
];
const CHART_COLOURS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

const STYLE = [
  'body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}',
  'table{border-collapse:collapse;margin:.5rem 0 1.5rem}',
  'th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}',
  'td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}',
  '.ci{color:#666;font-size:12px}',
  '.best{font-weight:bold}',
  'tr.reference td{background:#f7f7f7;font-style:italic}',
  '.chosen{color:#06623b;font-size:12px;white-space:nowrap}',
  '.test-set{max-width:44rem;white-space:normal}',
  '.key,.muted{color:#777;font-size:12px}',
  'pre{background:#f6f6f6;padding:.75rem;overflow:auto;max-height:30rem}',
  '.tables{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}',
  '.charts{display:flex;flex-wrap:wrap;gap:1.5rem}',
  'figure{margin:0}',
  'figure.empty svg{display:none}',
  'figure.empty figcaption::after{content:" (no points yet)";color:#777}',
  '.legend{list-style:none;padding:0;margin:.25rem 0;font-size:12px;max-width:480px}',
  '.gradcam{display:flex;flex-wrap:wrap;gap:1rem}',
  '.gradcam img{max-width:224px;border:1px solid #ddd}',
  'nav a{margin-right:1rem}',
  '.error{color:#a00}',
  ...HEAT_COLOURS.map(
    (colour, step) => `.heat-${step}{background:${colour}${step >= 6 ? ';color:#fff' : ''}}`,
  ),
  ...CHART_COLOURS.map((colour, index) => `.swatch[data-color="${index}"]{color:${colour}}`),
].join('\n');

export function layout(
  title: string,
  nonce: string,
  body: SafeHtml,
  boot?: Omit<Boot, 'colors'>,
): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · masksweep leaderboard</title>
<style nonce="${nonce}">${new SafeHtml(STYLE)}</style>
</head>
<body>
<nav><a href="/">Sweeps</a></nav>
${body}
${boot ? html`<script type="application/json" id="boot">${jsonForScript({ ...boot, colors: CHART_COLOURS })}</script><script nonce="${nonce}">${CLIENT_SCRIPT}</script>` : ''}
</body>
</html>
`;
}

export function sweepLink(namespace: string, sweep: string): string {
  return `/sweeps/${segment(namespace)}/${segment(sweep)}`;
}

export function trialLink(namespace: string, trial: string): string {
  return `/trials/${segment(namespace)}/${segment(trial)}`;
}
