/** Markdown pieces for bench/results/*.md. */

/** A pipe table: `rows` are arrays of cells, already formatted. */
export function table(headers, rows) {
  const esc = (c) => String(c).replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [`| ${headers.map(esc).join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.map(esc).join(' | ')} |`);
  return lines.join('\n');
}

export const bullets = (items) => items.map((s) => `- ${s}`).join('\n');
