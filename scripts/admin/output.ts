/** Text output of the admin commands: times, aligned fields, tables. */

export const isoTime = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Aligned `label  value` lines; list values continue on the following lines. */
export function fields(rows: [string, string | string[]][]): string {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows
    .flatMap(([label, value]) => {
      const values = Array.isArray(value) ? (value.length ? value : ["(none)"]) : [value];
      return values.map((v, i) => `  ${(i === 0 ? label : "").padEnd(width)}${v}`);
    })
    .join("\n");
}

/** A table of the rows, or `empty` when there are none. */
export const tableOr = (empty: string, header: string[], rows: string[][]): string => (rows.length ? table(header, rows) : empty);

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Printed after a user's or client's tokens are revoked. */
export const accessTokenWindowNote = "Access tokens are refused within about 60 s everywhere (KV propagation, docs/consistency.md).";
