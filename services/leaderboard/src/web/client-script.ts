/**
 * The pages' only script (inline, under the CSP nonce): draws metric curves as SVG and, on a
 * sweep page, applies the server's live updates (Server-Sent Events). Rows arrive as HTML
 * rendered and escaped by the server; curve labels are set with textContent. Boot data is
 * the JSON in <script type="application/json" id="boot">.
 */
import { SafeHtml } from './html.js';

export const CLIENT_SCRIPT = new SafeHtml(`
(function () {
  'use strict';
  var bootElement = document.getElementById('boot');
  if (!bootElement) return;
  var boot = JSON.parse(bootElement.textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  var WIDTH = 480, HEIGHT = 220, PAD_LEFT = 48, PAD_BOTTOM = 24, PAD = 8, MAX_POINTS = 1000;

  // series: key -> { chart, trial, label, points: [[step, value]], lastId }
  var series = new Map();
  var trialActivity = new Map();
  var dirty = new Set();

  function svgElement(name, attributes) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, String(attributes[key])); });
    return element;
  }

  function addPoint(point) {
    var id = point[0], trial = point[1], attempt = point[2], stage = point[3], kind = point[4];
    var name = point[5], step = point[6], value = point[7];
    trialActivity.set(trial, id);
    (boot.charts || []).forEach(function (chart) {
      if (chart.stage !== stage || chart.kind !== kind) return;
      if (chart.names && chart.names.indexOf(name) === -1) return;
      var key = chart.id + '|' + trial + '|' + attempt + '|' + name;
      var line = series.get(key);
      if (!line) {
        line = { chart: chart.id, trial: trial, label: trial + (attempt > 1 ? ' #' + attempt : '') + ' ' + name, points: [], lastId: 0 };
        series.set(key, line);
      }
      if (id <= line.lastId) return;
      line.points.push([step, value === null ? NaN : value]);
      line.lastId = id;
      if (line.points.length > MAX_POINTS) line.points = line.points.filter(function (_, i) { return i % 2 === 0; });
      dirty.add(chart.id);
    });
  }

  // Only the most recently active trials keep their curves.
  function dropStaleTrials() {
    var limit = boot.maxCurveTrials || 8;
    if (trialActivity.size <= limit) return;
    var recent = Array.from(trialActivity.entries()).sort(function (a, b) { return b[1] - a[1]; }).slice(0, limit);
    var keep = new Set(recent.map(function (entry) { return entry[0]; }));
    trialActivity.forEach(function (_, trial) { if (!keep.has(trial)) trialActivity.delete(trial); });
    series.forEach(function (line, key) {
      if (!keep.has(line.trial)) { series.delete(key); dirty.add(line.chart); }
    });
  }

  function draw(chartId) {
    var figure = document.getElementById(chartId);
    if (!figure) return;
    var lines = Array.from(series.values()).filter(function (line) { return line.chart === chartId; });
    var xs = [], ys = [];
    lines.forEach(function (line) {
      line.points.forEach(function (p) { if (isFinite(p[1])) { xs.push(p[0]); ys.push(p[1]); } });
    });
    var svg = figure.querySelector('svg');
    var legend = figure.querySelector('.legend');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    figure.classList.toggle('empty', xs.length === 0);
    if (xs.length === 0) return;
    var xMin = Math.min.apply(null, xs), xMax = Math.max.apply(null, xs);
    var yMin = Math.min.apply(null, ys), yMax = Math.max.apply(null, ys);
    if (xMax === xMin) xMax = xMin + 1;
    if (yMax === yMin) { yMax += 0.5; yMin -= 0.5; }
    var x = function (v) { return PAD_LEFT + (v - xMin) / (xMax - xMin) * (WIDTH - PAD_LEFT - PAD); };
    var y = function (v) { return PAD + (yMax - v) / (yMax - yMin) * (HEIGHT - PAD - PAD_BOTTOM); };
    svg.appendChild(svgElement('rect', { x: PAD_LEFT, y: PAD, width: WIDTH - PAD_LEFT - PAD, height: HEIGHT - PAD - PAD_BOTTOM, fill: 'none', stroke: '#ccc' }));
    [[yMax, PAD + 10], [yMin, HEIGHT - PAD_BOTTOM]].forEach(function (tick) {
      var label = svgElement('text', { x: PAD_LEFT - 4, y: tick[1], 'text-anchor': 'end', 'font-size': 10 });
      label.textContent = Number(tick[0].toPrecision(3)).toString();
      svg.appendChild(label);
    });
    [[xMin, PAD_LEFT, 'start'], [xMax, WIDTH - PAD, 'end']].forEach(function (tick) {
      var label = svgElement('text', { x: tick[1], y: HEIGHT - 8, 'text-anchor': tick[2], 'font-size': 10 });
      label.textContent = 'step ' + tick[0];
      svg.appendChild(label);
    });
    lines.forEach(function (line, index) {
      var color = COLORS[index % COLORS.length];
      var coordinates = line.points
        .filter(function (p) { return isFinite(p[1]); })
        .sort(function (a, b) { return a[0] - b[0]; })
        .map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1); });
      svg.appendChild(svgElement('polyline', { points: coordinates.join(' '), fill: 'none', stroke: color, 'stroke-width': 1.5 }));
      var item = document.createElement('li');
      var swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.textContent = '\\u25A0 ';
      swatch.setAttribute('data-color', String(index % COLORS.length));
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(line.label));
      legend.appendChild(item);
    });
  }

  function addPoints(points) {
    points.forEach(addPoint);
    dropStaleTrials();
    dirty.forEach(draw);
    dirty.clear();
  }

  function rowFromHtml(markup) {
    var template = document.createElement('template');
    template.innerHTML = markup.trim();
    return template.content.firstElementChild;
  }

  function sortValue(row, key) {
    var value = row.getAttribute('data-' + key);
    return value === null || value === '' ? -Infinity : Number(value);
  }

  // A config's row, new or updated: put it in rank order, keep the page's size.
  function upsertConfigRow(update) {
    var body = document.getElementById('ranking-body');
    if (!body) return;
    var row = rowFromHtml(update.html);
    var existing = Array.from(body.rows).filter(function (r) { return r.getAttribute('data-config-key') === update.configKey; })[0];
    if (existing) body.replaceChild(row, existing); else body.appendChild(row);
    var key = body.getAttribute('data-sort'), descending = body.getAttribute('data-order') !== 'asc';
    var rows = Array.from(body.rows).sort(function (a, b) {
      var difference = sortValue(a, key) - sortValue(b, key);
      if (difference !== 0 && !isNaN(difference)) return descending ? -difference : difference;
      var ka = a.getAttribute('data-config-key'), kb = b.getAttribute('data-config-key');
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    var pageSize = Number(body.getAttribute('data-page-size'));
    var offset = Number(body.getAttribute('data-rank-offset'));
    rows.forEach(function (r, index) {
      if (index >= pageSize) { body.removeChild(r); return; }
      body.appendChild(r);
      var rank = r.querySelector('.rank');
      if (rank) rank.textContent = String(offset + index + 1);
    });
    var empty = document.getElementById('ranking-empty');
    if (empty) empty.remove();
  }

  function prependResult(update) {
    var body = document.getElementById('recent-body');
    if (!body) return;
    var row = rowFromHtml(update.html);
    Array.from(body.rows).forEach(function (r) {
      if (r.getAttribute('data-trial') === row.getAttribute('data-trial')) body.removeChild(r);
    });
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > (boot.recentLimit || 20)) body.removeChild(body.lastChild);
    var count = document.getElementById('result-count');
    if (count) count.textContent = String(update.resultCount);
  }

  (boot.charts || []).forEach(function (chart) { dirty.add(chart.id); });
  addPoints(boot.points || []);

  if (boot.eventsUrl && window.EventSource) {
    var status = document.getElementById('live');
    var source = new EventSource(boot.eventsUrl);
    source.addEventListener('open', function () { if (status) status.textContent = 'live'; });
    source.addEventListener('error', function () { if (status) status.textContent = 'reconnecting'; });
    source.addEventListener('config', function (event) { upsertConfigRow(JSON.parse(event.data)); });
    source.addEventListener('result', function (event) { prependResult(JSON.parse(event.data)); });
    source.addEventListener('points', function (event) { addPoints(JSON.parse(event.data)); });
  }
})();
`);
