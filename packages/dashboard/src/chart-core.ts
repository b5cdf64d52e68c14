import * as path from 'path';

/** The charting primitives shared by the dashboard page and `mat report` (static/chart-core.js). */
export interface ChartCore {
  /** Colour-blind-safe palette (Okabe & Ito 2008): series i gets PALETTE[i % length]. */
  readonly PALETTE: readonly string[];
  tickStep(min: number, max: number, count?: number): number;
  /** Round tick values inside [min, max]. */
  niceTicks(min: number, max: number, count?: number): number[];
  /** Round tick values covering [min, max]. */
  coveringTicks(min: number, max: number, count?: number): number[];
  tickText(v: number): string;
  escapeXml(s: string): string;
  /** The one line-chart renderer (the dashboard's and `mat report`'s): the markup of an <svg data-chart>. */
  lineChartSvg(spec: LineChartSvgSpec): string;
}

export interface LineChartSvgSeries {
  /** data-series of the curve, its legend entry and (without tooltip) the start of its <title>. */
  name: string;
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
  /** Palette index (default: the series' index). */
  colour?: number;
  /** data-peer of the curve. */
  peer?: number;
  /** The curve's <title> before ": <last value> at <x label> <last x>" (default: name). */
  tooltip?: string;
}

export interface LineChartMark {
  step: number;
  kind: string;
  label: string;
}

export interface LineChartSvgSpec {
  /** data-chart of the <svg>. */
  id: string;
  title: string;
  xLabel: string;
  yLabel?: string;
  series: readonly LineChartSvgSeries[];
  /** 'percent': y in [0, 1] shown as %; default: chart-core's tickText. */
  yFormat?: 'percent' | 'number' | ((v: number) => string);
  /** Fixed axis ends; without them the axis covers the data with round ticks. */
  yMin?: number;
  yMax?: number;
  /** Integer x ticks only (steps). */
  xInteger?: boolean;
  /** Vertical lines at steps (generations, rollbacks). */
  marks?: readonly LineChartMark[];
  /** Circles on the points of curves with at most this many points (default 1). */
  markers?: number;
  width?: number;
  height?: number;
  /** Draw the title inside the chart. */
  heading?: boolean;
  /** A legend right of the plot. */
  legend?: boolean;
}

/** The one implementation, a browser script that the page inlines and Node loads as a module. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain script file, not a TS module
export const chartCore: ChartCore = require(
  path.join(__dirname, '..', 'static', 'chart-core.js'),
) as ChartCore;
