/** Integers as they are; other numbers with a precision that suits their size; missing values as "-". */
function formatCell(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'number') {
    if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
    const abs = Math.abs(value);
    if (abs >= 100) return value.toFixed(1);
    if (abs >= 1) return value.toFixed(2);
    return value.toPrecision(3);
  }
  return Array.isArray(value) ? value.join(',') : String(value);
}

/**
 * An aligned text table: a header, a rule, one line per row. Numbers are right-aligned, text left-aligned.
 * Columns default to every key in the order first seen. Used by list commands and benchmark reports.
 */
export function formatTable(
  rows: readonly Readonly<Record<string, unknown>>[],
  columns?: readonly string[],
): string {
  const names = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => names.map((name) => formatCell(row[name])));
  const widths = names.map((name, i) =>
    Math.max(name.length, ...cells.map((line) => (line[i] as string).length)),
  );
  const isNumeric = names.map((name) => rows.some((row) => typeof row[name] === 'number'));
  const render = (line: readonly string[]): string =>
    line
      .map((cell, i) =>
        isNumeric[i] ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number),
      )
      .join('  ')
      .trimEnd();
  return [render(names), render(widths.map((w) => '-'.repeat(w))), ...cells.map(render)].join('\n');
}

/** An epoch-seconds time (a job's last or next run) as RFC 3339 UTC, or `-`. */
export function formatEpochSeconds(seconds: unknown): string {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}
