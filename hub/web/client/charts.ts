// Telemetry and price charts on uPlot (small, fast, canvas-based), bundled into app.js.
import uPlot from 'uplot';
import { h } from './dom.js';

export interface LineSeries {
  label: string;
  t: number[];
  v: number[];
}

/** A chart of one or more series that share a time axis (ms); values aligned by sample time. */
export class LineChart {
  readonly el: HTMLElement;
  private plot: uPlot | undefined;
  private series: LineSeries[];

  constructor(
    readonly title: string,
    series: LineSeries[],
    private readonly unit: string,
    testid: string,
  ) {
    this.series = series;
    this.el = h('div', { class: 'chart', 'data-testid': testid }, h('h4', {}, title));
    queueMicrotask(() => this.draw());
  }

  private aligned(): uPlot.AlignedData {
    const times = [...new Set(this.series.flatMap((s) => s.t))].sort((a, b) => a - b);
    const cols = this.series.map((s) => {
      const m = new Map<number, number>();
      for (let i = 0; i < s.t.length; i++) m.set(s.t[i] as number, s.v[i] as number);
      return times.map((t) => m.get(t) ?? null);
    });
    return [times.map((t) => t / 1000), ...cols] as uPlot.AlignedData;
  }

  private draw(): void {
    const colors = ['#2f6fdf', '#d9822b', '#1f9d55', '#9c36b5'];
    this.plot = new uPlot(
      {
        width: Math.max(320, Math.min(900, (this.el.parentElement?.clientWidth ?? 640) - 20)),
        height: 180,
        series: [
          {},
          ...this.series.map((s, i) => ({
            label: `${s.label} (${this.unit})`,
            stroke: colors[i % colors.length] as string,
            width: 1.5,
            spanGaps: true,
          })),
        ],
        axes: [{}, { size: 60 }],
      },
      this.aligned(),
      this.el,
    );
  }

  /** Appends samples for the series called `label`. */
  append(label: string, t: number, v: number): void {
    const s = this.series.find((x) => x.label === label);
    if (!s) return;
    s.t.push(t);
    s.v.push(v);
    if (s.t.length > 2000) {
      s.t.shift();
      s.v.shift();
    }
    this.plot?.setData(this.aligned());
  }

  get points(): number {
    return this.series.reduce((n, s) => n + s.t.length, 0);
  }

  destroy(): void {
    this.plot?.destroy();
  }
}
