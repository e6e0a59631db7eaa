/** Prints rows as aligned columns: the columns in `left` padded on the right, the rest on the left. */
export function printTable(
  rows: readonly (readonly string[])[],
  left: readonly number[] = [0],
): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) {
    const cells = r.map((v, i) =>
      left.includes(i) ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number),
    );
    console.log(cells.join('  ').trimEnd());
  }
}
