// @ts-check
/**
 * The pages' only script, inlined by layout.ts under the response's CSP nonce: draws metric
 * curves as SVG and, on a sweep page, applies the server's live updates (Server-Sent
 * Events). Rows arrive as HTML rendered and escaped by the server; curve labels are set with
 * textContent. Boot data and events are as contract.ts describes them. A classic script,
 * not a module (it runs inline): its function scope keeps it off window.
 */
(() => {
  /**
   * @typedef {import('./contract.js').Boot} Boot
   * @typedef {import('./contract.js').ChartSpec} ChartSpec
   * @typedef {import('./contract.js').WirePoint} WirePoint
   * @typedef {import('./contract.js').ConfigUpdate} ConfigUpdate
   * @typedef {import('./contract.js').ResultUpdate} ResultUpdate
   * @typedef {import('./contract.js').ReferenceUpdate} ReferenceUpdate
   * @typedef {import('./contract.js').PointsUpdate} PointsUpdate
   * @typedef {{ chart: string, trial: string, label: string, points: Array<[number, number]>, lastId: number }} Line
   */

  const bootElement = document.getElementById('boot');
  if (!bootElement) return;
  /** @type {Boot} */
  const boot = JSON.parse(bootElement.textContent ?? '');
  const SVG = 'http://www.w3.org/2000/svg';
  const COLORS = boot.colors;
  const WIDTH = 480;
  const HEIGHT = 220;
  const PAD_LEFT = 48;
  const PAD_BOTTOM = 24;
  const PAD = 8;
  const MAX_POINTS = 1000;

  /** @type {Map<string, Line>} chart|trial|attempt|name -> its line */
  const series = new Map();
  /** @type {Map<string, number>} trial -> the id of its latest point */
  const trialActivity = new Map();
  /** @type {Set<string>} charts to draw again */
  const dirty = new Set();

  /**
   * @param {string} name
   * @param {Record<string, string | number>} attributes
   */
  function svgElement(name, attributes) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      element.setAttribute(key, String(value));
    }
    return element;
  }

  /** @param {WirePoint} point */
  function addPoint(point) {
    const [id, trial, attempt, stage, kind, name, step, value] = point;
    trialActivity.set(trial, id);
    for (const chart of boot.charts) {
      if (chart.stage !== stage || chart.kind !== kind) continue;
      if (chart.names && !chart.names.includes(name)) continue;
      const key = `${chart.id}|${trial}|${attempt}|${name}`;
      let line = series.get(key);
      if (!line) {
        const label = `${trial}${attempt > 1 ? ` #${attempt}` : ''} ${name}`;
        line = { chart: chart.id, trial, label, points: [], lastId: 0 };
        series.set(key, line);
      }
      if (id <= line.lastId) continue;
      line.points.push([step, value === null ? Number.NaN : value]);
      line.lastId = id;
      if (line.points.length > MAX_POINTS) line.points = line.points.filter((_, i) => i % 2 === 0);
      dirty.add(chart.id);
    }
  }

  // Only the most recently active trials keep their curves.
  function dropStaleTrials() {
    const limit = boot.maxCurveTrials;
    if (trialActivity.size <= limit) return;
    const recent = [...trialActivity.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
    const keep = new Set(recent.map(([trial]) => trial));
    for (const trial of [...trialActivity.keys()]) {
      if (!keep.has(trial)) trialActivity.delete(trial);
    }
    for (const [key, line] of [...series]) {
      if (keep.has(line.trial)) continue;
      series.delete(key);
      dirty.add(line.chart);
    }
  }

  /** @param {string} chartId */
  function draw(chartId) {
    const figure = document.getElementById(chartId);
    const svg = figure?.querySelector('svg');
    const legend = figure?.querySelector('.legend');
    if (!figure || !svg || !legend) return;
    const lines = [...series.values()].filter((line) => line.chart === chartId);
    /** @type {number[]} */
    const xs = [];
    /** @type {number[]} */
    const ys = [];
    for (const line of lines) {
      for (const [x, y] of line.points) {
        if (Number.isFinite(y)) {
          xs.push(x);
          ys.push(y);
        }
      }
    }
    svg.replaceChildren();
    legend.replaceChildren();
    figure.classList.toggle('empty', xs.length === 0);
    if (xs.length === 0) return;
    const xMin = Math.min(...xs);
    let xMax = Math.max(...xs);
    let yMin = Math.min(...ys);
    let yMax = Math.max(...ys);
    if (xMax === xMin) xMax = xMin + 1;
    if (yMax === yMin) {
      yMax += 0.5;
      yMin -= 0.5;
    }
    /** @param {number} v */
    const x = (v) => PAD_LEFT + ((v - xMin) / (xMax - xMin)) * (WIDTH - PAD_LEFT - PAD);
    /** @param {number} v */
    const y = (v) => PAD + ((yMax - v) / (yMax - yMin)) * (HEIGHT - PAD - PAD_BOTTOM);
    svg.appendChild(
      svgElement('rect', {
        x: PAD_LEFT,
        y: PAD,
        width: WIDTH - PAD_LEFT - PAD,
        height: HEIGHT - PAD - PAD_BOTTOM,
        fill: 'none',
        stroke: '#ccc',
      }),
    );
    /** @type {Array<[number, number]>} */
    const yTicks = [
      [yMax, PAD + 10],
      [yMin, HEIGHT - PAD_BOTTOM],
    ];
    for (const [value, position] of yTicks) {
      const label = svgElement('text', {
        x: PAD_LEFT - 4,
        y: position,
        'text-anchor': 'end',
        'font-size': 10,
      });
      label.textContent = Number(value.toPrecision(3)).toString();
      svg.appendChild(label);
    }
    /** @type {Array<[number, number, string]>} */
    const xTicks = [
      [xMin, PAD_LEFT, 'start'],
      [xMax, WIDTH - PAD, 'end'],
    ];
    for (const [value, position, anchor] of xTicks) {
      const label = svgElement('text', {
        x: position,
        y: HEIGHT - 8,
        'text-anchor': anchor,
        'font-size': 10,
      });
      label.textContent = `step ${value}`;
      svg.appendChild(label);
    }
    lines.forEach((line, index) => {
      const color = COLORS[index % COLORS.length] ?? '';
      const coordinates = line.points
        .filter((p) => Number.isFinite(p[1]))
        .sort((a, b) => a[0] - b[0])
        .map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`);
      svg.appendChild(
        svgElement('polyline', {
          points: coordinates.join(' '),
          fill: 'none',
          stroke: color,
          'stroke-width': 1.5,
        }),
      );
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.textContent = '\u25A0 ';
      swatch.setAttribute('data-color', String(index % COLORS.length));
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(line.label));
      legend.appendChild(item);
    });
  }

  /** @param {WirePoint[]} points */
  function addPoints(points) {
    points.forEach(addPoint);
    dropStaleTrials();
    dirty.forEach(draw);
    dirty.clear();
  }

  /** @param {string} markup */
  function rowFromHtml(markup) {
    const template = document.createElement('template');
    template.innerHTML = markup.trim();
    return template.content.firstElementChild;
  }

  /**
   * @param {Element} row
   * @param {string} key
   */
  function sortValue(row, key) {
    const value = row.getAttribute(`data-${key}`);
    return value === null || value === '' ? Number.NEGATIVE_INFINITY : Number(value);
  }

  /** @param {string} id */
  function tableBody(id) {
    const element = document.getElementById(id);
    return element instanceof HTMLTableSectionElement ? element : null;
  }

  // A config's row, new or updated: put it in rank order, keep the page's size.
  /** @param {ConfigUpdate} update */
  function upsertConfigRow(update) {
    const body = tableBody('ranking-body');
    const row = rowFromHtml(update.html);
    if (!body || !row) return;
    const existing = [...body.rows].find(
      (r) => r.getAttribute('data-config-key') === update.configKey,
    );
    if (existing) body.replaceChild(row, existing);
    else body.appendChild(row);
    const key = body.getAttribute('data-sort') ?? 'val_f1';
    const descending = body.getAttribute('data-order') !== 'asc';
    const rows = [...body.rows].sort((a, b) => {
      const difference = sortValue(a, key) - sortValue(b, key);
      if (difference !== 0 && !Number.isNaN(difference)) {
        return descending ? -difference : difference;
      }
      const ka = a.getAttribute('data-config-key') ?? '';
      const kb = b.getAttribute('data-config-key') ?? '';
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    const pageSize = Number(body.getAttribute('data-page-size'));
    const offset = Number(body.getAttribute('data-rank-offset'));
    rows.forEach((r, index) => {
      if (index >= pageSize) {
        body.removeChild(r);
        return;
      }
      body.appendChild(r);
      const rank = r.querySelector('.rank');
      if (rank) rank.textContent = String(offset + index + 1);
    });
    document.getElementById('ranking-empty')?.remove();
  }

  /** @param {ResultUpdate} update */
  function prependResult(update) {
    const body = tableBody('recent-body');
    const row = rowFromHtml(update.html);
    if (!body || !row) return;
    for (const r of [...body.rows]) {
      if (r.getAttribute('data-trial') === row.getAttribute('data-trial')) body.removeChild(r);
    }
    body.insertBefore(row, body.firstChild);
    const limit = boot.recentLimit ?? 20;
    while (body.rows.length > limit && body.lastChild) body.removeChild(body.lastChild);
    const count = document.getElementById('result-count');
    if (count) count.textContent = String(update.resultCount);
  }

  for (const chart of boot.charts) dirty.add(chart.id);
  addPoints(boot.points);

  if (boot.eventsUrl && window.EventSource) {
    const status = document.getElementById('live');
    const source = new EventSource(boot.eventsUrl);
    source.addEventListener('open', () => {
      if (status) status.textContent = 'live';
    });
    source.addEventListener('error', () => {
      if (status) status.textContent = 'reconnecting';
    });
    source.addEventListener('config', (event) => {
      upsertConfigRow(/** @type {ConfigUpdate} */ (JSON.parse(event.data)));
    });
    source.addEventListener('reference', (event) => {
      const body = tableBody('ranking-reference');
      const template = document.createElement('template');
      template.innerHTML = /** @type {ReferenceUpdate} */ (JSON.parse(event.data)).html;
      body?.replaceChildren(template.content);
    });
    source.addEventListener('result', (event) => {
      prependResult(/** @type {ResultUpdate} */ (JSON.parse(event.data)));
    });
    source.addEventListener('points', (event) => {
      addPoints(/** @type {PointsUpdate} */ (JSON.parse(event.data)));
    });
  }
})();
