// Colours: Grafana's named colours, thresholds, the classic series palette, gradients.

// Grafana's named colours (dark theme values; the same names Grafana's colour picker stores in dashboards)
const NAMED = {
  'super-light-red': '#FFA6B0', 'light-red': '#FF7383', red: '#F2495C', 'semi-dark-red': '#E02F44', 'dark-red': '#C4162A',
  'super-light-orange': '#FFCB7D', 'light-orange': '#FFB357', orange: '#FF9830', 'semi-dark-orange': '#FF780A', 'dark-orange': '#FA6400',
  'super-light-yellow': '#FFF899', 'light-yellow': '#FFEE52', yellow: '#FADE2A', 'semi-dark-yellow': '#F2CC0C', 'dark-yellow': '#E0B400',
  'super-light-green': '#C8F2C2', 'light-green': '#96D98D', green: '#73BF69', 'semi-dark-green': '#56A64B', 'dark-green': '#37872D',
  'super-light-blue': '#C0D8FF', 'light-blue': '#8AB8FF', blue: '#5794F2', 'semi-dark-blue': '#3274D9', 'dark-blue': '#1F60C4',
  'super-light-purple': '#DEB6F2', 'light-purple': '#CA95E5', purple: '#B877D9', 'semi-dark-purple': '#A352CC', 'dark-purple': '#8F3BB8',
};

const TEXT = { dark: 'rgb(204, 204, 220)', light: 'rgba(36, 41, 46, 1)' };

/** Grafana's named colour names, in picker order (hue by hue, light to dark). */
export const NAMED_COLORS = Object.keys(NAMED);

/**
 * A CSS colour for a Grafana colour: a named colour (`green`, `dark-red`, `super-light-blue`, …), `text`,
 * `transparent`; anything else (hex, `rgb(…)`, CSS names) is returned unchanged. Empty -> the text colour.
 * @param {string} name
 * @param {'dark'|'light'} [theme='dark'] only changes `text`
 * @returns {string}
 */
export function namedColor(name, theme = 'dark') {
  if (name === null || name === undefined || name === '' || name === 'text') return TEXT[theme] || TEXT.dark;
  if (name === 'transparent') return 'transparent';
  return NAMED[name] || name;
}

// Grafana's classic palette (series colours before Grafana 7.3, still `palette-classic`'s order of hues)
const CLASSIC = [
  '#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300',
  '#447EBC', '#C15C17', '#890F02', '#0A437C', '#6D1F62', '#584477', '#B7DBAB', '#F4D598', '#70DBED', '#F9BA8F',
  '#F29191', '#82B5D8', '#E5A8E2', '#AEA2E0', '#629E51', '#E5AC0E', '#64B0C8', '#E0752D', '#BF1B00', '#0A50A1',
  '#962D82', '#614D93', '#9AC48A', '#F2C96D', '#65C5DB', '#F9934E', '#EA6460', '#5195CE', '#D683CE', '#806EB7',
  '#3F6833', '#967302', '#2F575E', '#99440A', '#58140C', '#052B51', '#511749', '#3F2B5B', '#E0F9D7', '#FCEACA',
  '#CFFAFF', '#F9E2D2', '#FCE2DE', '#BADFF4', '#F9D9F9', '#DEDAF7',
];

/**
 * The i-th series colour of Grafana's classic palette (wraps around).
 * @param {number} i 0-based series index
 * @returns {string} hex colour
 */
export function palette(i) {
  const n = CLASSIC.length;
  const k = Math.floor(Number(i) || 0);
  return CLASSIC[((k % n) + n) % n];
}

/**
 * The step of a thresholds config a value falls in: the last step whose value is <= the value (a null step
 * value means minus infinity). In 'percentage' mode step values are percents of [min, max]. NaN gets the first
 * step.
 * @param {number} value
 * @param {{mode?: 'absolute'|'percentage', steps: {value: number|null, color: string}[]}} thresholds
 * @param {number} [min=0] for percentage mode
 * @param {number} [max=100] for percentage mode
 * @returns {{value: number|null, color: string}|null} null when there are no steps
 */
export function activeStep(value, thresholds, min = 0, max = 100) {
  const steps = [...(thresholds?.steps || [])].sort(
    (a, b) => (a.value === null || a.value === undefined ? -Infinity : a.value) - (b.value === null || b.value === undefined ? -Infinity : b.value),
  );
  if (!steps.length) return null;
  let v = Number(value);
  if (thresholds.mode === 'percentage') {
    const lo = Number.isFinite(min) ? min : 0;
    const hi = Number.isFinite(max) ? max : 100;
    v = hi === lo ? NaN : ((v - lo) / (hi - lo)) * 100;
  }
  let active = steps[0];
  for (const s of steps) {
    const sv = s.value === null || s.value === undefined ? -Infinity : s.value;
    if (v >= sv) active = s;
    else break;
  }
  return active;
}

/**
 * The CSS colour for a value under thresholds (see activeStep); with no steps, Grafana's fallback green.
 * @param {number} value
 * @param {{mode?: 'absolute'|'percentage', steps: {value: number|null, color: string}[]}} thresholds
 * @param {number} [min] for percentage mode (default 0)
 * @param {number} [max] for percentage mode (default 100)
 * @returns {string}
 */
export function colorForValue(value, thresholds, min, max) {
  const step = activeStep(value, thresholds, min ?? 0, max ?? 100);
  return namedColor(step ? step.color : 'green');
}

/**
 * Parses a CSS colour (hex #rgb/#rgba/#rrggbb/#rrggbbaa, rgb()/rgba(), or a Grafana named colour) to channels.
 * @param {string} color
 * @returns {{r: number, g: number, b: number, a: number}|null} null when not understood
 */
export function parseColor(color) {
  const c = namedColor(color).trim();
  let m = /^#([0-9a-f]{3,8})$/i.exec(c);
  if (m) {
    let h = m[1];
    if (h.length === 3 || h.length === 4) h = [...h].map((x) => x + x).join('');
    if (h.length !== 6 && h.length !== 8) return null;
    return { r: parseInt(h.slice(0, 2), 16), g: parseInt(h.slice(2, 4), 16), b: parseInt(h.slice(4, 6), 16), a: h.length === 8 ? parseInt(h.slice(6, 8), 16) / 255 : 1 };
  }
  m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$/i.exec(c);
  if (m) return { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] };
  if (c === 'transparent') return { r: 0, g: 0, b: 0, a: 0 };
  return null;
}

/**
 * A colour with an opacity, e.g. for area fills: `rgba(r, g, b, alpha)`; colours it cannot parse are returned
 * unchanged.
 * @param {string} color
 * @param {number} alpha 0..1
 * @returns {string}
 */
export function withAlpha(color, alpha) {
  const p = parseColor(color);
  if (!p) return color;
  const a = Math.max(0, Math.min(1, Number(alpha)));
  return `rgba(${p.r}, ${p.g}, ${p.b}, ${Math.round(a * 1000) / 1000})`;
}

/**
 * A colour for a value on a continuous scale from min to max, interpolated in RGB between the stops
 * (default green -> yellow -> red, Grafana's GrYlRd scheme). Values outside are clamped; NaN or min >= max give
 * the first stop.
 * @param {number} value
 * @param {number} min
 * @param {number} max
 * @param {string[]} [stops=['green', 'yellow', 'red']] colours (named, hex or rgb)
 * @returns {string} `rgb(r, g, b)`
 */
export function gradient(value, min, max, stops = ['green', 'yellow', 'red']) {
  const cols = stops.map(parseColor).filter(Boolean);
  if (!cols.length) return 'rgb(0, 0, 0)';
  let f = (Number(value) - min) / (max - min);
  if (!Number.isFinite(f)) f = Number(value) >= max && max > min ? 1 : 0;
  f = Math.max(0, Math.min(1, f));
  const pos = f * (cols.length - 1);
  const i = Math.min(cols.length - 2, Math.floor(pos));
  if (cols.length === 1) return `rgb(${cols[0].r}, ${cols[0].g}, ${cols[0].b})`;
  const t = pos - i;
  const a = cols[i];
  const b = cols[i + 1];
  const mix = (x, y) => Math.round(x + (y - x) * t);
  return `rgb(${mix(a.r, b.r)}, ${mix(a.g, b.g)}, ${mix(a.b, b.b)})`;
}
