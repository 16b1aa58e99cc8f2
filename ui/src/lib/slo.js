// SLO pages' pure helpers: number formatting, list filtering (the API's `search` and `label` semantics),
// budget levels and the chart panels built from the expressions of GET /api/v1/slos/<id>.

/** A ratio as a percentage with enough digits to tell 99.9 % from 99.95 %: `99.958%`; `–` for null. */
export function percent(ratio, digits = 3) {
  if (ratio == null || !Number.isFinite(ratio)) return '–';
  const text = (ratio * 100).toFixed(digits).replace(/\.?0+$/, '');
  return text + '%';
}

/** An objective's percent as written in the spec: `99.9%`. */
export function objectiveText(percentValue) {
  return percentValue == null ? '–' : String(percentValue) + '%';
}

/** A burn rate: `10×`, `0.417×`, `–` for null. */
export function burnText(rate) {
  if (rate == null || !Number.isFinite(rate)) return '–';
  const digits = Math.abs(rate) >= 100 ? 0 : Math.abs(rate) >= 10 ? 1 : Math.abs(rate) >= 1 ? 2 : 3;
  return rate.toFixed(digits).replace(/\.?0+$/, '') + '×';
}

/**
 * Seconds as a short human duration with two units at most: `43.2 min` below an hour, `1d 18h`, `6h`,
 * `25 s`; `–` for null. Negative durations (overspent budget) keep their sign.
 */
export function durationText(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '–';
  const sign = seconds < 0 ? '-' : '';
  const s = Math.abs(seconds);
  if (s < 60) return sign + (Math.round(s * 10) / 10) + ' s';
  if (s < 3600) return sign + (Math.round(s / 6) / 10) + ' min';
  const units = [['d', 86400], ['h', 3600], ['m', 60]];
  const parts = [];
  let left = Math.round(s / 60) * 60;
  for (const [name, size] of units) {
    const n = Math.floor(left / size);
    if (n > 0 && parts.length < 2) { parts.push(n + name); left -= n * size; } else if (parts.length) break;
  }
  return sign + parts.join(' ');
}

/** `ok` (more than half left), `low` (up to half), `out` (spent), `none` (no data). */
export function budgetLevel(remaining) {
  if (remaining == null || !Number.isFinite(remaining)) return 'none';
  if (remaining <= 0) return 'out';
  return remaining > 0.5 ? 'ok' : 'low';
}

/** `name=value` filters from the page's `label` URL parameters (malformed ones ignored). */
export function parseLabelFilters(values) {
  const out = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i > 0) out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/**
 * The SLOs matching every label filter and every word of `search` (case-insensitive, in id, service,
 * name, description or label values), in the given order: what `GET /api/v1/slos?search=&label=` answers.
 */
export function filterSlos(slos, search, labels) {
  const words = String(search || '').toLowerCase().split(/\s+/).filter(Boolean);
  return slos.filter((s) => {
    for (const [k, v] of Object.entries(labels || {})) if ((s.labels || {})[k] !== v) return false;
    const text = [s.id, s.service, s.name, s.description, ...Object.values(s.labels || {})].join(' ').toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** Label name -> sorted distinct values over the SLOs (the label filter's choices). */
export function labelChoices(slos) {
  const out = {};
  for (const s of slos) for (const [k, v] of Object.entries(s.labels || {})) (out[k] = out[k] || new Set()).add(v);
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, [...out[k]].sort()]));
}

/** The remaining-budget chart: the period's remaining budget over time, with the zero line. */
export function budgetPanel(slo) {
  return {
    id: 'budget', type: 'timeseries', title: `Error budget remaining (${slo.period.duration} window)`,
    targets: [{ refId: 'A', expr: slo.queries.budget_remaining, legendFormat: 'remaining' }],
    fieldConfig: { unit: 'percentunit', decimals: 1, thresholds: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'red', value: 0 }] },
      custom: { thresholdsStyle: { mode: 'line' } } },
    options: { legend: { show: true, displayMode: 'list' }, tooltip: { mode: 'multi' } },
  };
}

/** One alert window's chart: the short and long window burn rates and the factor they must both pass. */
export function burnPanel(slo, w) {
  const q = slo.queries.burn_rate;
  return {
    id: `burn-${w.long_window}`, type: 'timeseries',
    title: `${w.alert === 'page' ? 'Page' : 'Ticket'}: ${w.long_window} / ${w.short_window} burn rate (over ${burnText(w.factor)})`,
    targets: [
      { refId: 'A', expr: q[w.long_window], legendFormat: `long (${w.long_window})` },
      { refId: 'B', expr: q[w.short_window], legendFormat: `short (${w.short_window})` },
      { refId: 'C', expr: `vector(${w.factor})`, legendFormat: `threshold ${burnText(w.factor)}` },
    ],
    fieldConfig: { unit: 'short', min: 0 },
    options: { legend: { show: true, displayMode: 'list' }, tooltip: { mode: 'multi' }, fillOpacity: 0, lineWidth: 2 },
  };
}
