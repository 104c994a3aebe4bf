/**
 * A sweep summary's way from a statistics worker to the event loop. Sent as one object, its
 * copy in (the structured clone's deserialisation) runs on the event loop in one piece,
 * growing with the sweep: 70-80 ms for 1,000 configs here. So the worker serialises it in
 * slices of a few dozen configs or tables (v8.serialize keeps NaN, which JSON would not),
 * and the event loop reads one slice per turn, letting requests in between: each turn costs
 * a few ms whatever the sweep's size.
 */
import { deserialize, serialize } from 'node:v8';
import type { SweepSummary } from '../store/types.js';

/** Configs per slice (about 4 ms of deserialisation here). */
const CONFIGS_PER_SLICE = 50;
/** Tables per slice (a table has a row per config of its grid). */
const TABLES_PER_SLICE = 10;

export interface PackedSummary {
  head: Omit<SweepSummary, 'configs' | 'tables'>;
  configs: Uint8Array[];
  tables: Uint8Array[];
}

/** On the worker: the summary in slices. */
export function packSummary(summary: SweepSummary): PackedSummary {
  const { configs, tables, ...head } = summary;
  return {
    head,
    configs: slices(configs, CONFIGS_PER_SLICE),
    tables: slices(tables, TABLES_PER_SLICE),
  };
}

/** On the event loop: the summary again, one slice per turn of the loop. */
export async function unpackSummary(packed: PackedSummary): Promise<SweepSummary> {
  const configs: SweepSummary['configs'] = [];
  for (const slice of packed.configs) {
    await nextTurn();
    for (const config of deserialize(slice) as SweepSummary['configs']) configs.push(config);
  }
  const tables: SweepSummary['tables'] = [];
  for (const slice of packed.tables) {
    await nextTurn();
    for (const table of deserialize(slice) as SweepSummary['tables']) tables.push(table);
  }
  return { ...packed.head, configs, tables };
}

function slices<T>(items: readonly T[], size: number): Uint8Array[] {
  const packed: Uint8Array[] = [];
  for (let start = 0; start < items.length; start += size) {
    packed.push(serialize(items.slice(start, start + size)));
  }
  return packed;
}

/** After the I/O callbacks waiting (a health probe, another request). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
