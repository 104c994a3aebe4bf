/** How the view writes numbers and config values; all return plain text (escaped later). */
import type { MetricSummary } from '@masksweep/proto';
import { DASH } from '../labels.js';

/** A fraction as a percentage with one decimal, as the paper's tables (0.8765 -> 87.7). */
export function score(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : (value * 100).toFixed(1);
}

/**
 * "[85.1, 90.3]", or empty when there is no interval (validation metrics, results without
 * stored predictions).
 */
export function interval(summary: Pick<MetricSummary, 'ciLow' | 'ciHigh'> | undefined): string {
  if (!summary || !Number.isFinite(summary.ciLow)) return '';
  return `[${score(summary.ciLow)}, ${score(summary.ciHigh)}]`;
}

/** A difference of fractions in percentage points with its sign: "+3.2", "−1.0". */
export function points(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  const text = (Math.abs(value) * 100).toFixed(1);
  return text === '0.0' ? text : `${value < 0 ? '−' : '+'}${text}`;
}

/** A p-value: two decimals, one significant digit below 0.01 (a bootstrap p is >= 2/(R+1)). */
export function pValue(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  return value < 0.01 ? value.toPrecision(1) : value.toFixed(2);
}

/** A confidence level as a percentage: 0.95 is `95`, 0.975 is `97.5`. */
export function percent(level: number): string {
  return String(Number((level * 100).toPrecision(10)));
}

/**
 * A time as `2026-01-31 12:00:00 UTC`. A value no date can hold (past 8.64e15 ms, stored
 * before the store refused such times) is shown as its number, so the page still renders.
 */
export function timestamp(ms: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return `${ms} ms (not a date)`;
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return DASH;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}
