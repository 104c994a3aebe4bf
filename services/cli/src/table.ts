/** A plain-text table with columns padded to their widest cell, like kubectl's. */
export function table(header: string[], rows: string[][]): string {
  // A loop, not Math.max(...cells): spreading 100k+ arguments overflows the call stack.
  const widths = header.map((h) => h.length);
  for (const row of rows) {
    for (let c = 0; c < widths.length; c++) {
      widths[c] = Math.max(widths[c] ?? 0, (row[c] ?? '').length);
    }
  }
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
