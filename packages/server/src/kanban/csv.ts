/**
 * RFC 4180 CSV, with spreadsheet formula injection defused: a cell a
 * spreadsheet would run as a formula (=, +, -, @, tab, CR at its start) is
 * prefixed with a single quote (OWASP "CSV Injection"), so an issue title
 * like `=HYPERLINK(…)` exports as text.
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
