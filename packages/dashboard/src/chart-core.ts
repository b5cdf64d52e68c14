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
}

/** The one implementation, a browser script that the page inlines and Node loads as a module. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain script file, not a TS module
export const chartCore: ChartCore = require(
  path.join(__dirname, '..', 'static', 'chart-core.js'),
) as ChartCore;
