// A small SVG trend line (demand, energy): geometry from lib/chart.ts, a text alternative that
// says the last value and the range, so the chart is never the only way to read the number.

import { scaleSeries, type Sample } from '../lib/chart.js';

export interface SparklineProps {
  samples: readonly Sample[];
  /** What is measured, for the accessible name: "demand of pool web". */
  label: string;
  unit?: string;
  width?: number;
  height?: number;
  format?(value: number): string;
}

export function Sparkline({ samples, label, unit = '', width = 240, height = 48, format = (v) => String(Math.round(v * 100) / 100) }: SparklineProps) {
  const g = scaleSeries(samples, width, height);
  const u = unit ? ` ${unit}` : '';
  const summary =
    g.last === undefined
      ? `${label}: no samples yet`
      : `${label}: now ${format(g.last)}${u}, over ${samples.length} samples (scale 0 to ${format(g.max)}${u})`;
  return (
    <figure class="spark">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={summary} preserveAspectRatio="none">
        <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="axis" />
        {g.area && <path d={g.area} class="area" />}
        {g.line && <path d={g.line} class="line" />}
      </svg>
      <figcaption>
        {g.last === undefined ? 'waiting for samples' : `${format(g.last)}${u}`}
        <span class="muted"> · max {format(g.max)}{u}</span>
      </figcaption>
    </figure>
  );
}
