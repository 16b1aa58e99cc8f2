// Stat, gauge and bar gauge panels.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { reduce } from '../lib/series.js';
import { fc, fmt, thresholdColor, withAlpha } from './common.js';
import { toGaps } from './timeseries.jsx';

export function reducedValues(panel, frame) {
  const how = (panel.options && panel.options.reduce) || 'lastNotNull';
  return frame.series.map((s) => ({
    name: (fc(panel).displayName) || s.name,
    value: s.instant ? s.value : reduce(s.values, how),
    values: s.instant ? null : s.values,
  }));
}

function Sparkline({ times, values, color }) {
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current;
    const u = new uPlot({
      width: Math.max(20, el.clientWidth), height: Math.max(10, el.clientHeight), pxAlign: true,
      legend: { show: false }, cursor: { show: false }, select: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: false } },
      series: [{}, { stroke: color, fill: withAlpha(color, 0.25), width: 1, points: { show: false } }],
    }, [times, toGaps(values)], el);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(20, el.clientWidth), height: Math.max(10, el.clientHeight) }));
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); };
  }, [times, values, color]);
  return <div class="sparkline" ref={ref} />;
}

export function Stat({ panel, frame }) {
  const o = panel.options || {};
  const items = reducedValues(panel, frame);
  const colorMode = o.colorMode || 'value';
  const graph = (o.graphMode || 'area') !== 'none';
  return (
    <div class="stat-grid" style={{ gridTemplateColumns: `repeat(${Math.min(items.length, 4)}, 1fr)` }}>
      {items.map((it, i) => {
        const color = thresholdColor(panel, it.value);
        const bg = colorMode === 'background';
        return (
          <div class={'stat' + (bg ? ' stat-bg' : '')} key={i} style={bg ? { background: color } : undefined}>
            {items.length > 1 && <div class="stat-name">{it.name}</div>}
            <div class="stat-value" style={colorMode === 'value' ? { color } : undefined}>{fmt(panel, it.value)}</div>
            {graph && it.values && frame.times && (
              <Sparkline times={frame.times} values={it.values} color={bg ? 'rgba(255,255,255,0.8)' : color} />
            )}
          </div>
        );
      })}
    </div>
  );
}

function arc(cx, cy, r, a0, a1) {
  const p = (a) => [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  const [x0, y0] = p(a0), [x1, y1] = p(a1);
  return `M${x0.toFixed(2)},${y0.toFixed(2)} A${r},${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ${x1.toFixed(2)},${y1.toFixed(2)}`;
}

export function Gauge({ panel, frame }) {
  const f = fc(panel);
  const o = panel.options || {};
  const min = f.min ?? 0;
  const max = f.max ?? (f.unit === 'percentunit' ? 1 : 100);
  const items = reducedValues(panel, frame);
  const A0 = Math.PI * 0.75, A1 = Math.PI * 2.25;
  const ang = (v) => A0 + (A1 - A0) * Math.min(1, Math.max(0, (v - min) / ((max - min) || 1)));
  const steps = (f.thresholds && f.thresholds.steps) || [{ value: null, color: 'green' }];
  const pct = f.thresholds && f.thresholds.mode === 'percentage';
  const stepVal = (s) => (s.value == null ? min : pct ? min + (max - min) * s.value / 100 : s.value);
  return (
    <div class="gauge-grid" style={{ gridTemplateColumns: `repeat(${Math.min(items.length, 4)}, 1fr)` }}>
      {items.map((it, i) => {
        const color = thresholdColor(panel, it.value, min, max);
        return (
          <div class="gauge" key={i}>
            <svg viewBox="0 0 200 170" preserveAspectRatio="xMidYMid meet">
              <path d={arc(100, 100, 80, A0, A1)} stroke="rgba(128,128,128,0.2)" stroke-width="18" fill="none" />
              <path d={arc(100, 100, 80, A0, Math.max(A0 + 0.001, ang(it.value)))} stroke={color} stroke-width="18" fill="none" />
              {o.showThresholdMarkers !== false && steps.map((s, j) => {
                const a = ang(stepVal(s));
                const b = steps[j + 1] ? ang(stepVal(steps[j + 1])) : A1;
                return b > a ? <path d={arc(100, 100, 95, a, b)} stroke={thresholdColor(panel, stepVal(s), min, max)} stroke-width="5" fill="none" /> : null;
              })}
              <text x="100" y="110" text-anchor="middle" class="gauge-value" fill={color}>{fmt(panel, it.value)}</text>
              {items.length > 1 && <text x="100" y="160" text-anchor="middle" class="gauge-name">{it.name}</text>}
            </svg>
          </div>
        );
      })}
    </div>
  );
}

export function BarGauge({ panel, frame }) {
  const f = fc(panel);
  const o = panel.options || {};
  const items = reducedValues(panel, frame);
  const min = f.min ?? 0;
  let max = f.max;
  if (max == null) max = Math.max(...items.map((i) => (Number.isFinite(i.value) ? i.value : 0)), f.unit === 'percentunit' ? 1 : 0) || 1;
  const vertical = o.orientation === 'vertical';
  const mode = o.displayMode || 'gradient';
  return (
    <div class={'bargauge' + (vertical ? ' vertical' : '')}>
      {items.map((it, i) => {
        const frac = Math.min(1, Math.max(0, ((it.value ?? 0) - min) / ((max - min) || 1)));
        const color = thresholdColor(panel, it.value, min, max);
        const style = { background: mode === 'gradient' ? `linear-gradient(${vertical ? 'to top' : 'to right'}, ${withAlpha(color, 0.35)}, ${color})` : color };
        style[vertical ? 'height' : 'width'] = (frac * 100).toFixed(2) + '%';
        return (
          <div class="bg-item" key={i}>
            <div class="bg-name" title={it.name}>{it.name}</div>
            <div class={'bg-track' + (mode === 'lcd' ? ' lcd' : '')}><div class="bg-bar" style={style} /></div>
            <div class="bg-value" style={{ color }}>{fmt(panel, it.value)}</div>
          </div>
        );
      })}
    </div>
  );
}
