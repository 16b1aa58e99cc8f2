// Time series panel: uPlot lines, stacked areas, bars or points, with legend, tooltip, sync and zoom.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { axisTicksFormatter } from '../lib/units.js';
import { reduce, stack } from '../lib/series.js';
import { fc, fmt, seriesColor, withAlpha, escapeHtml, namedColor, axisSize, axisIncrs, AXIS_FONT, timeAxisValues } from './common.js';

const CALC_LABELS = { mean: 'Mean', max: 'Max', min: 'Min', lastNotNull: 'Last *', last: 'Last', sum: 'Total', first: 'First', count: 'Count', range: 'Range', delta: 'Delta' };


// uPlot's gaps are nulls: NaN and infinities become null (a series without any stays as it is).
export function toGaps(values) {
  let i = 0;
  while (i < values.length && Number.isFinite(values[i])) i++;
  if (i === values.length) return values;
  const out = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number.isFinite(values[i]) ? values[i] : null;
  return out;
}

// Points that have no neighbour to draw a line to (Grafana shows them as dots).
function isolatedPoints(u, si, show) {
  if (show) return null;
  const d = u.data[si];
  const out = [];
  for (let i = 0; i < d.length; i++) {
    if (d[i] != null && (i === 0 || d[i - 1] == null) && (i === d.length - 1 || d[i + 1] == null)) out.push(i);
  }
  return out.length ? out : null;
}

export function tzDateFn(timezone) {
  if (!timezone || timezone === 'browser') return undefined;
  const tz = timezone === 'utc' ? 'Etc/UTC' : timezone;
  return (ts) => uPlot.tzDate(new Date(ts * 1e3), tz);
}

function thresholdsHook(panel) {
  const o = panel.options || {};
  const f = fc(panel);
  const mode = (o.thresholdsStyle && o.thresholdsStyle.mode) || (f.custom && f.custom.thresholdsStyle && f.custom.thresholdsStyle.mode) || 'off';
  const steps = ((f.thresholds && f.thresholds.steps) || []).filter((s) => s.value != null);
  if (mode === 'off' || !steps.length || (f.thresholds && f.thresholds.mode === 'percentage')) return null;
  return (u) => {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    steps.forEach((s, i) => {
      const y = Math.round(u.valToPos(s.value, 'y', true));
      if (y < top || y > top + height) return;
      const color = namedColor(s.color);
      if (mode.includes('area')) {
        const next = steps[i + 1] ? Math.round(u.valToPos(steps[i + 1].value, 'y', true)) : top;
        ctx.fillStyle = withAlpha(color, 0.12);
        ctx.fillRect(left, Math.max(top, next), width, y - Math.max(top, next));
      }
      if (mode.includes('line') || mode === 'dashed') {
        ctx.strokeStyle = color;
        ctx.lineWidth = 1;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
      }
    });
    ctx.restore();
  };
}

export function TimeSeries({ panel, frame, syncKey, graphTooltip, timezone, onZoom, onExploreSeries, compact }) {
  const plotRef = useRef(null);
  const tipRef = useRef(null);
  const uRef = useRef(null);
  const [hidden, setHidden] = useState(() => new Set());
  const o = panel.options || {};
  const legend = o.legend || {};
  const showLegend = !compact && legend.show !== false && legend.displayMode !== 'hidden';
  const placement = legend.placement === 'right' ? 'right' : 'bottom';
  const calcs = legend.calcs || [];
  const series = frame.series.filter((s) => !s.instant);
  const f = fc(panel);
  const stacking = (o.stacking && (o.stacking.mode || o.stacking)) || 'none';
  // the chart is rebuilt only when its shape changes; new data for the same series goes through setData
  const shapeKey = series.map((s) => s.name).join('\u0001');
  const cur = useRef(null);
  const prepare = (fr) => {
    const ser = fr.series.filter((s) => !s.instant);
    const raw = ser.map((s) => s.values);
    const plotted = stacking === 'normal' || stacking === 'percent' ? stack(raw, stacking) : raw;
    // uPlot's gaps are nulls (NaN would be drawn across)
    return { frame: fr, series: ser, plotted, data: [fr.times, ...plotted.map(toGaps)] };
  };

  useEffect(() => {
    const el = plotRef.current;
    if (!el) return undefined;
    const drawStyle = o.drawStyle || 'line';
    const fill = (o.fillOpacity ?? (stacking !== 'none' ? 50 : 10)) / 100;
    const lineWidth = o.lineWidth ?? 1;
    cur.current = prepare(frame);
    const data = cur.current.data;
    const tickFmt = axisTicksFormatter(stacking === 'percent' ? 'percentunit' : (f.unit || 'short'), f.decimals ?? null);
    let hovering = false;
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;

    const uSeries = [{}];
    const bands = [];
    series.forEach((s, i) => {
      const color = seriesColor(panel, i);
      const ser = {
        label: s.name,
        stroke: color,
        width: lineWidth,
        show: !hidden.has(i),
        spanGaps: false,
        // points: always for the points style; for lines uPlot's default (shown when points are sparse)
        points: drawStyle === 'points' ? { show: true, size: 4, fill: color } : drawStyle === 'bars' ? { show: false } : { size: 4, fill: color, filter: isolatedPoints },
      };
      if (drawStyle === 'bars') { ser.paths = bars; ser.fill = withAlpha(color, Math.max(fill, 0.6)); }
      else if (drawStyle === 'points') { ser.paths = () => null; }
      else if (fill > 0) ser.fill = withAlpha(color, fill);
      uSeries.push(ser);
      if ((stacking === 'normal' || stacking === 'percent') && i > 0) bands.push({ series: [i + 1, i], fill: withAlpha(color, fill) });
    });

    const yRange = (u, min, max) => {
      let lo = f.min ?? null, hi = f.max ?? null;
      if (stacking === 'percent') { lo = 0; hi = 1; }
      if (lo == null) lo = min == null ? 0 : (min >= 0 && drawStyle !== 'line' ? 0 : min);
      if (hi == null) hi = max == null ? 1 : max;
      if (lo === hi) { if (lo === 0) hi = 1; else if (lo > 0) { hi = lo * 2; lo = 0; } else { hi = 0; lo *= 2; } }
      const pad = (hi - lo) * 0.05;
      return [f.min != null ? lo : (lo === 0 ? 0 : lo - pad), f.max != null ? hi : hi + pad];
    };

    const thr = thresholdsHook(panel);
    const tipMode = (o.tooltip && o.tooltip.mode) || 'multi';
    const opts = {
      width: Math.max(50, el.clientWidth),
      height: Math.max(40, el.clientHeight),
      pxAlign: true,
      tzDate: tzDateFn(timezone),
      legend: { show: false },
      series: uSeries,
      bands,
      // the x axis spans the selected time range, not just the data
      scales: { x: { time: true, range: (u, min, max) => { const fr = cur.current && cur.current.frame; return fr && fr.fromMs != null ? [fr.fromMs / 1000, fr.toMs / 1000] : [min, max]; } }, y: { range: yRange } },
      axes: [
        { stroke: '#8e8e8e', grid: { stroke: 'rgba(128,128,128,0.15)', width: 1 }, ticks: { show: false }, font: '11px system-ui, sans-serif', size: 26, space: 70, values: timeAxisValues(timezone) },
        { stroke: '#8e8e8e', grid: { stroke: 'rgba(128,128,128,0.15)', width: 1 }, ticks: { show: false }, font: AXIS_FONT,
          size: axisSize, incrs: axisIncrs(stacking === 'percent' ? 'percentunit' : f.unit), values: (u, splits) => tickFmt(splits) },
      ],
      cursor: {
        sync: graphTooltip ? { key: syncKey, setSeries: false } : undefined,
        drag: { x: true, y: false, setScale: false },
        points: { size: 6 },
      },
      hooks: {
        drawClear: thr ? [thr] : [],
        setSelect: [(u) => {
          if (u.select.width > 4 && onZoom) {
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            onZoom(Math.round(a * 1000), Math.round(b * 1000));
          }
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        }],
        setCursor: [(u) => {
          const tip = tipRef.current;
          if (!tip) return;
          const idx = u.cursor.idx;
          const show = tipMode !== 'none' && idx != null && u.cursor.left >= 0 && (hovering || graphTooltip === 2);
          if (!show) { tip.style.display = 'none'; return; }
          const { frame: fr, series: ser, plotted } = cur.current;
          const t = fr.times[idx];
          let rows = ser.map((s, i) => ({ i, s, v: s.values[idx] })).filter((r) => !hidden.has(r.i) && Number.isFinite(r.v));
          if (tipMode === 'single' && rows.length) {
            const yv = u.posToVal(u.cursor.top, 'y');
            let best = rows[0];
            for (const r of rows) if (Math.abs(plotted[r.i][idx] - yv) < Math.abs(plotted[best.i][idx] - yv)) best = r;
            rows = [best];
          } else {
            rows.sort((a, b) => b.v - a.v);
          }
          if (rows.length > 12) rows = rows.slice(0, 12);
          const d = new Date(t * 1000);
          const when = timezone === 'utc' ? d.toISOString().replace('T', ' ').slice(0, 19) : d.toLocaleString();
          tip.innerHTML = `<div class="tip-time">${escapeHtml(when)}</div>` + rows.map((r) =>
            `<div class="tip-row"><span class="swatch" style="background:${seriesColor(panel, r.i)}"></span><span class="tip-name">${escapeHtml(r.s.name)}</span><span class="tip-val">${escapeHtml(fmt(panel, r.v))}</span></div>`).join('');
          tip.style.display = 'block';
          const pw = u.over.clientWidth;
          const left = u.cursor.left + u.bbox.left / devicePixelRatio;
          const tw = tip.offsetWidth;
          tip.style.left = (left + 14 + tw > pw + u.bbox.left / devicePixelRatio ? Math.max(0, left - tw - 14) : left + 14) + 'px';
          tip.style.top = Math.max(0, u.cursor.top - 10) + 'px';
        }],
      },
    };
    const u = new uPlot(opts, data, el);
    uRef.current = u;
    u.over.addEventListener('mouseenter', () => { hovering = true; });
    u.over.addEventListener('mouseleave', () => { hovering = false; if (tipRef.current) tipRef.current.style.display = 'none'; });
    let raf = 0;
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(raf);
      raf = requestAnimationFrame(() => {
        const w = Math.max(50, el.clientWidth), h = Math.max(40, el.clientHeight);
        if (w !== u.width || h !== u.height) u.setSize({ width: w, height: h });
      });
    });
    ro.observe(el);
    return () => { cancelAnimationFrame(raf); ro.disconnect(); u.destroy(); uRef.current = null; };
  }, [shapeKey, panel, hidden, syncKey, graphTooltip, timezone]);

  useEffect(() => {
    if (!uRef.current || !cur.current || cur.current.frame === frame) return;
    cur.current = prepare(frame);
    uRef.current.setData(cur.current.data);
  }, [frame]);

  const toggle = (i, e) => {
    const next = new Set(hidden);
    if (e.ctrlKey || e.metaKey) {
      if (next.has(i)) next.delete(i); else next.add(i);
    } else {
      const onlyThis = hidden.size === series.length - 1 && !hidden.has(i);
      next.clear();
      if (!onlyThis) series.forEach((_, j) => { if (j !== i) next.add(j); });
    }
    setHidden(next);
  };

  return (
    <div class={'ts ts-legend-' + placement}>
      <div class="ts-plot-wrap">
        <div class="ts-plot" ref={plotRef} />
        <div class="tooltip" ref={tipRef} style="display:none" />
      </div>
      {showLegend && series.length > 0 && (
        <div class="legend">
          {calcs.length > 0 && (
            <div class="legend-row legend-head">
              <span class="legend-name" />
              {calcs.map((c) => <span class="legend-calc">{CALC_LABELS[c] || c}</span>)}
            </div>
          )}
          {series.map((s, i) => (
            <div class={'legend-row' + (hidden.has(i) ? ' off' : '')} key={i}>
              <span class="legend-name" onClick={(e) => toggle(i, e)} title="Click to show only this series; Ctrl+click to toggle">
                <span class="swatch" style={{ background: seriesColor(panel, i) }} />
                {s.name}
              </span>
              {calcs.map((c) => <span class="legend-calc">{fmt(panel, reduce(s.values, c))}</span>)}
              {onExploreSeries && (
                <button class="legend-explore" title="Explore series" onClick={() => onExploreSeries(s)}>↗</button>
              )}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
