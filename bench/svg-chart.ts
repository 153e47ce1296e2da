/**
 * A dependency-free SVG line chart for benchmark results: axes with round-number ticks, one polyline (with
 * point markers) per series, dashed horizontal reference lines (targets, model bounds), a legend on the right.
 * Good enough to eyeball a trend in a browser; not a plotting library.
 */

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
}

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly ChartPoint[];
}

export interface ReferenceLine {
  readonly name: string;
  readonly y: number;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  readonly referenceLines?: readonly ReferenceLine[];
  /** Logarithmic x axis (for thread counts, sizes); points with x ≤ 0 cannot be drawn and are dropped. */
  readonly logX?: boolean;
  readonly width?: number;
  readonly height?: number;
}

/** Tableau 10: distinct hues that stay apart for common colour blindness. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
] as const;

const MARGIN = { top: 48, right: 200, bottom: 56, left: 72 } as const;

function colourOf(index: number): string {
  return PALETTE[index % PALETTE.length] as string;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Four significant digits at most, no float noise: 0.30000000000000004 → 0.3, 1234567 → 1.235e+6. */
function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-3) return value.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(4)));
}

/** Step of 1, 2 or 5 × 10^k giving about `count` intervals over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

/** Extends [min, max] to round numbers and lists the ticks in it. */
function linearTicks(min: number, max: number): { min: number; max: number; ticks: number[] } {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) / 2;
    return linearTicks(min - pad, max + pad);
  }
  const step = niceStep(max - min, 5);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step / 1e6; i++) ticks.push(lo + i * step);
  return { min: lo, max: hi, ticks };
}

/** Ticks at 1, 2, 5 × 10^k inside [min, max]; the data's own x values when that gives fewer than three. */
function logTicks(min: number, max: number, xs: readonly number[]): number[] {
  const ticks: number[] = [];
  for (let k = Math.floor(Math.log10(min)); k <= Math.ceil(Math.log10(max)); k++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** k;
      if (value >= min * (1 - 1e-9) && value <= max * (1 + 1e-9)) ticks.push(value);
    }
  }
  return ticks.length >= 3 ? ticks : [...new Set(xs)].sort((a, b) => a - b);
}

/** Renders the chart as a standalone SVG document. */
export function lineChartSvg(options: LineChartOptions): string {
  const width = options.width ?? 800;
  const height = options.height ?? 480;
  const isLog = options.logX === true;
  const references = options.referenceLines ?? [];
  const series = options.series.map((s) => ({
    name: s.name,
    points: s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!isLog || p.x > 0))
      .toSorted((a, b) => a.x - b.x),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = [...series.flatMap((s) => s.points.map((p) => p.y)), ...references.map((r) => r.y)].filter((y) =>
    Number.isFinite(y),
  );

  const plotLeft = MARGIN.left;
  const plotRight = width - MARGIN.right;
  const plotTop = MARGIN.top;
  const plotBottom = height - MARGIN.bottom;

  // The y axis starts at zero for non-negative data: throughput charts that do not are misleading.
  const y = linearTicks(Math.min(0, ...ys), ys.length === 0 ? 1 : Math.max(...ys));
  const xMinData = xs.length === 0 ? (isLog ? 1 : 0) : Math.min(...xs);
  const xMaxData = xs.length === 0 ? (isLog ? 10 : 1) : Math.max(...xs);
  let xTicks: number[];
  let toX: (value: number) => number;
  if (isLog) {
    const lo = Math.log10(xMinData);
    const hi = xMaxData === xMinData ? lo + 1 : Math.log10(xMaxData);
    xTicks = logTicks(10 ** lo, 10 ** hi, xs);
    toX = (value) => plotLeft + ((Math.log10(value) - lo) / (hi - lo)) * (plotRight - plotLeft);
  } else {
    const x = linearTicks(xMinData, xMaxData);
    xTicks = x.ticks;
    toX = (value) => plotLeft + ((value - x.min) / (x.max - x.min)) * (plotRight - plotLeft);
  }
  const toY = (value: number): number =>
    plotBottom - ((value - y.min) / (y.max - y.min)) * (plotBottom - plotTop);
  const fmt = (n: number): string => n.toFixed(1);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`,
  );

  out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
  for (const t of y.ticks) {
    out.push(`<line x1="${plotLeft}" y1="${fmt(toY(t))}" x2="${plotRight}" y2="${fmt(toY(t))}"/>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${fmt(toX(t))}" y1="${plotTop}" x2="${fmt(toX(t))}" y2="${plotBottom}"/>`);
  }
  out.push('</g>');

  out.push('<g class="axes" stroke="#333333" stroke-width="1">');
  out.push(`<line x1="${plotLeft}" y1="${plotBottom}" x2="${plotRight}" y2="${plotBottom}"/>`);
  out.push(`<line x1="${plotLeft}" y1="${plotTop}" x2="${plotLeft}" y2="${plotBottom}"/>`);
  for (const t of y.ticks)
    out.push(`<line x1="${plotLeft - 5}" y1="${fmt(toY(t))}" x2="${plotLeft}" y2="${fmt(toY(t))}"/>`);
  for (const t of xTicks) {
    out.push(`<line x1="${fmt(toX(t))}" y1="${plotBottom}" x2="${fmt(toX(t))}" y2="${plotBottom + 5}"/>`);
  }
  out.push('</g>');

  out.push('<g class="tick-labels" fill="#333333">');
  for (const t of y.ticks) {
    out.push(`<text x="${plotLeft - 8}" y="${fmt(toY(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<text x="${fmt(toX(t))}" y="${plotBottom + 20}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  out.push('</g>');

  out.push(
    `<text class="x-label" x="${(plotLeft + plotRight) / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text class="y-label" x="18" y="${(plotTop + plotBottom) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(plotTop + plotBottom) / 2})">${escapeXml(options.yLabel)}</text>`,
  );

  references.forEach((ref, i) => {
    const colour = colourOf(series.length + i);
    const yy = fmt(toY(ref.y));
    out.push(
      `<line class="reference" x1="${plotLeft}" y1="${yy}" x2="${plotRight}" y2="${yy}" stroke="${colour}" stroke-width="1.5" stroke-dasharray="6 4"><title>${escapeXml(ref.name)}: ${formatTick(ref.y)}</title></line>`,
    );
  });

  series.forEach((s, i) => {
    const colour = colourOf(i);
    const points = s.points.map((p) => `${fmt(toX(p.x))},${fmt(toY(p.y))}`).join(' ');
    out.push(
      `<g class="series">`,
      `<polyline fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round" points="${points}"><title>${escapeXml(s.name)}</title></polyline>`,
      ...s.points.map(
        (p) =>
          `<circle cx="${fmt(toX(p.x))}" cy="${fmt(toY(p.y))}" r="3" fill="${colour}"><title>${escapeXml(s.name)}: (${formatTick(p.x)}, ${formatTick(p.y)})</title></circle>`,
      ),
      '</g>',
    );
  });

  const legendX = plotRight + 16;
  out.push('<g class="legend">');
  const entries = [
    ...series.map((s, i) => ({ name: s.name, colour: colourOf(i), isDashed: false })),
    ...references.map((r, i) => ({ name: r.name, colour: colourOf(series.length + i), isDashed: true })),
  ];
  entries.forEach((entry, i) => {
    const yy = plotTop + 8 + i * 20;
    const dash = entry.isDashed ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<line x1="${legendX}" y1="${yy}" x2="${legendX + 24}" y2="${yy}" stroke="${entry.colour}" stroke-width="2"${dash}/>`,
      `<text x="${legendX + 30}" y="${yy + 4}">${escapeXml(entry.name)}</text>`,
    );
  });
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}
