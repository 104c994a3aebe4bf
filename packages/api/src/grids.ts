import type { GridSpec } from './schema.js';

/**
 * A grid's name: its own, or `grid-<position, from 1>` when it has none. Names are unique in
 * a Sweep (validation says so); each trial lists the grids that produce its config.
 */
export function gridName(grid: Pick<GridSpec, 'name'>, index: number): string {
  return grid.name ?? `grid-${index + 1}`;
}
