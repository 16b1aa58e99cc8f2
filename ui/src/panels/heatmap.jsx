// Heatmap of Prometheus classic histogram buckets (le), drawn by a uPlot draw hook.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { heatmapBuckets } from '../lib/series.js';
import { formatValue } from '../lib/units.js';
import { tzDateFn } from './timeseries.jsx';
import { escapeHtml, axisSize, timeAxisValues } from './common.js';

// count (0..1 of max) -> colour on a dark-blue .. yellow scale
function scale(t) {
  const stops = [[13, 8, 135], [126, 3, 168], [204, 71, 120], [248, 149, 64], [240, 249, 33]];
  const x = Math.min(0.9999, Math.max(0, t)) * (stops.length - 1);
  const i = Math.floor(x), f = x - i;
  const a = stops[i], b = stops[i + 1];
  return `rgb(${Math.round(a[0] + (b[0] - a[0]) * f)},${Math.round(a[1] + (b[1] - a[1]) * f)},${Math.round(a[2] + (b[2] - a[2]) * f)})`;
}

function boundLabel(b, unit) {
  if (b === Infinity || b === '+Inf') return '+Inf';
  try { return formatValue(Number(b), unit || 'short', null); } catch { return String(b); }
}

export function Heatmap({ panel, frame, syncKey, graphTooltip, timezone, onZoom }) {
  const ref = useRef(null);
  const tipRef = useRef(null);
  const [maxCount, setMaxCount] = useState(0);
  useEffect(() => {
    const el = ref.current;
    const hm = heatmapBuckets(frame.columns);
    const times = hm.times;
    const bounds = hm.bounds;
    const counts = hm.counts; // counts[bucket][timeIndex]
    const nb = bounds.length;
    let max = 0;
    for (const row of counts) for (const c of row) if (Number.isFinite(c) && c > max) max = c;
    setMaxCount(max);
    const unit = (panel.options && panel.options.yAxisUnit) || (panel.fieldConfig && panel.fieldConfig.unit) || 'short';
    let hovering = false;
    const draw = (u) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      const n = times.length;
      for (let t = 0; t < n; t++) {
        const x0 = u.valToPos(times[t], 'x', true);
        const x1 = t + 1 < n ? u.valToPos(times[t + 1], 'x', true) : x0 + (n > 1 ? x0 - u.valToPos(times[t - 1], 'x', true) : 4);
        for (let b = 0; b < nb; b++) {
          const c = counts[b][t];
          if (!Number.isFinite(c) || c <= 0) continue;
          const y0 = u.valToPos(b, 'y', true), y1 = u.valToPos(b + 1, 'y', true);
          ctx.fillStyle = scale(max ? c / max : 0);
          ctx.fillRect(Math.floor(x0), Math.floor(y1), Math.max(1, Math.ceil(x1 - x0)), Math.max(1, Math.ceil(y0 - y1)));
        }
      }
      ctx.restore();
    };
    const opts = {
      width: Math.max(50, el.clientWidth),
      height: Math.max(40, el.clientHeight),
      pxAlign: true,
      tzDate: tzDateFn(timezone),
      legend: { show: false },
      series: [{}, { label: 'buckets', stroke: 'transparent', paths: () => null, points: { show: false } }],
      scales: { x: { time: true, range: (u, min, max) => (frame.fromMs != null ? [frame.fromMs / 1000, frame.toMs / 1000] : [min, max]) }, y: { auto: false, range: [0, Math.max(1, nb)] } },
      axes: [
        { stroke: '#8e8e8e', grid: { show: false }, ticks: { show: false }, font: '11px system-ui, sans-serif', size: 26, space: 70, values: timeAxisValues(timezone) },
        { stroke: '#8e8e8e', grid: { show: false }, ticks: { show: false }, font: '11px system-ui, sans-serif', size: axisSize,
          splits: () => Array.from({ length: nb }, (_, i) => i + 0.5).filter((_, i) => nb <= 12 || i % Math.ceil(nb / 12) === 0),
          values: (u, splits) => splits.map((s) => boundLabel(bounds[Math.floor(s)], unit)) },
      ],
      cursor: { sync: graphTooltip ? { key: syncKey, setSeries: false } : undefined, drag: { x: true, y: false, setScale: false }, points: { show: false } },
      hooks: {
        draw: [draw],
        setSelect: [(u) => {
          if (u.select.width > 4 && onZoom) onZoom(Math.round(u.posToVal(u.select.left, 'x') * 1000), Math.round(u.posToVal(u.select.left + u.select.width, 'x') * 1000));
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        }],
        setCursor: [(u) => {
          const tip = tipRef.current;
          const idx = u.cursor.idx;
          if (!tip) return;
          if (idx == null || !hovering || u.cursor.top < 0) { tip.style.display = 'none'; return; }
          const b = Math.floor(u.posToVal(u.cursor.top, 'y'));
          if (b < 0 || b >= nb) { tip.style.display = 'none'; return; }
          const lo = b === 0 ? 0 : bounds[b - 1];
          tip.innerHTML = `<div class="tip-time">${escapeHtml(new Date(times[idx] * 1000).toLocaleString())}</div>` +
            `<div class="tip-row"><span class="tip-name">${escapeHtml(boundLabel(lo, unit))} – ${escapeHtml(boundLabel(bounds[b], unit))}</span><span class="tip-val">${escapeHtml(String(+(counts[b][idx] ?? 0).toFixed(3)))}</span></div>`;
          tip.style.display = 'block';
          tip.style.left = (u.cursor.left + u.over.offsetLeft + 14) + 'px';
          tip.style.top = u.cursor.top + 'px';
        }],
      },
    };
    const u = new uPlot(opts, [times, new Array(times.length).fill(null)], el);
    u.over.addEventListener('mouseenter', () => { hovering = true; });
    u.over.addEventListener('mouseleave', () => { hovering = false; tipRef.current.style.display = 'none'; });
    const ro = new ResizeObserver(() => {
      const w = Math.max(50, el.clientWidth), h = Math.max(40, el.clientHeight);
      if (w !== u.width || h !== u.height) u.setSize({ width: w, height: h });
    });
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); };
  }, [frame, panel, syncKey, graphTooltip, timezone]);
  return (
    <div class="ts">
      <div class="ts-plot-wrap"><div class="ts-plot" ref={ref} /><div class="tooltip" ref={tipRef} style="display:none" /></div>
      <div class="heat-scale" title="Colour scale: count per bucket and step">
        <span>0</span><span class="heat-bar" style={{ background: `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(scale).join(', ')})` }} />
        <span>{+maxCount.toPrecision(3)}</span>
      </div>
    </div>
  );
}
