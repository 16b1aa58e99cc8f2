// Value formatting with Grafana's unit ids (fieldConfig.unit).
//
// The rules follow Grafana's value formats (packages/grafana-data/src/valueFormats):
// automatic decimals, 1000/1024 scaling with clamped prefixes, time units that
// step up ms -> s -> min -> hour -> day, count units ("1.23K ops"), currencies
// ("$1.53K"), and the `prefix:` / `suffix:` / `si:` / `count:` / `currency:` /
// `time:` / `bool:` custom forms. An unknown id is used as a suffix ("12 foo").
//
// Non-numbers: null/undefined -> "" ; NaN -> "NaN" ; +Infinity -> "∞" ;
// -Infinity -> "-∞" (no unit text in any of these cases).
//
// Data rates use current Grafana's symbols: bps -> "b/s", "kb/s", "Mb/s"; Bps -> "B/s", "kB/s", "MB/s";
// SI units scale below 1 too ("500 mB"), IEC units do not; short scales with " K", " Mil", " Bil", " Tri".
// Time units take their own base: `ms` milliseconds, `s` seconds, `µs` microseconds, `ns` nanoseconds,
// `m` minutes, `h` hours, `d` days; `dtdurationms`/`clockms`/`dateTimeAs*` milliseconds, `dtdurations` seconds.

const INF = '∞';

/**
 * Grafana's automatic decimals for a value when none are given:
 * integers get 0, others about two significant digits after the leading one.
 * @param {number} value
 * @returns {number}
 */
export function autoDecimals(value) {
  if (!Number.isFinite(value) || value % 1 === 0) return 0;
  const log10 = Math.floor(Math.log10(Math.abs(value)));
  // Grafana computes dec = 1 - log10 and adds one more since the normalised
  // value (between 10 and 100) is always above 2.25.
  return Math.max(0, 2 - log10);
}

/**
 * Fixed-point text as Grafana's toFixed: `decimals` null/undefined means
 * automatic decimals; negative decimals count as 0; non-finite values give
 * "NaN", "∞", "-∞".
 * @param {number} value
 * @param {number|null|undefined} decimals
 * @returns {string}
 */
export function toFixed(value, decimals) {
  if (value === null || value === undefined) return '';
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return INF;
  if (value === -Infinity) return '-' + INF;
  if (decimals === null || decimals === undefined) decimals = autoDecimals(value);
  decimals = Math.max(0, Math.min(20, Math.floor(decimals)));
  if (value === 0) return (0).toFixed(decimals);
  const factor = Math.pow(10, decimals);
  const formatted = String(Math.round(value * factor) / factor);
  if (formatted.includes('e')) return formatted;
  const dot = formatted.indexOf('.');
  const precision = dot === -1 ? 0 : formatted.length - dot - 1;
  if (precision < decimals) {
    return (precision ? formatted : formatted + '.') + '0'.repeat(decimals - precision);
  }
  return formatted;
}

// ---- scalers: (absValue) -> {mul, div, prefix, suffix} ----------------------

function scaledUnits(factor, exts, offset = 0) {
  const last = exts.length - 1;
  return (abs) => {
    let idx = 0;
    if (abs > 0 && Number.isFinite(abs)) {
      idx = Math.floor(Math.log10(abs) / Math.log10(factor));
      // guard against log rounding at exact powers
      if (Math.pow(factor, idx + 1) <= abs) idx += 1;
      else if (Math.pow(factor, idx) > abs) idx -= 1;
    }
    const suffix = exts[Math.min(last, Math.max(0, offset + idx))];
    const k = Math.min(last - offset, Math.max(-offset, idx));
    return k >= 0 ? { div: Math.pow(factor, k), suffix } : { mul: Math.pow(factor, -k), suffix };
  };
}

const SI = ['f', 'p', 'n', 'µ', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
const SI_BASE = 5;
const BIN = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi'];

function siPrefix(unit, offset = 0) {
  return scaledUnits(1000, SI.map((p) => ' ' + p + unit), SI_BASE + offset);
}
function binPrefix(unit, offset = 0) {
  return scaledUnits(1024, BIN.map((p) => ' ' + p + unit), offset);
}
function fixed(unit, asPrefix = false) {
  const r = unit ? (asPrefix ? { div: 1, prefix: unit } : { div: 1, suffix: ' ' + unit }) : { div: 1 };
  return () => r;
}
function count(symbol) {
  const s = scaledUnits(1000, ['', 'K', 'M', 'B', 'T']);
  return (abs) => {
    const r = s(abs);
    return { ...r, suffix: r.suffix + ' ' + symbol };
  };
}
function currency(symbol, asSuffix = false) {
  const s = scaledUnits(1000, ['', 'K', 'M', 'B', 'T']);
  const f = (abs) => {
    const r = s(abs);
    return asSuffix ? { ...r, suffix: r.suffix + symbol } : { ...r, prefix: symbol };
  };
  f.signOutside = true;
  return f;
}
// rows: [upperBoundExclusive, divisor (or -multiplier), suffix]
function timeTable(rows) {
  return (abs) => {
    for (const [lim, d, suffix] of rows) {
      if (abs < lim) return d < 0 ? { mul: -d, suffix } : { div: d, suffix };
    }
    const [, d, suffix] = rows[rows.length - 1];
    return { div: d, suffix };
  };
}

const T_NS = timeTable([
  [1e3, 1, ' ns'], [1e6, 1e3, ' µs'], [1e9, 1e6, ' ms'], [6e10, 1e9, ' s'],
  [3.6e12, 6e10, ' min'], [8.64e13, 3.6e12, ' hour'], [Infinity, 8.64e13, ' day'],
]);
const T_US = timeTable([[1e3, 1, ' µs'], [1e6, 1e3, ' ms'], [Infinity, 1e6, ' s']]);
const T_MS = timeTable([
  [1e3, 1, ' ms'], [6e4, 1e3, ' s'], [3.6e6, 6e4, ' min'], [8.64e7, 3.6e6, ' hour'],
  [31536e6, 8.64e7, ' day'], [Infinity, 31536e6, ' year'],
]);
const T_S = (() => {
  const t = timeTable([
    [1e-6, -1e9, ' ns'], [1e-3, -1e6, ' µs'], [1, -1e3, ' ms'], [60, 1, ' s'], [3600, 60, ' min'],
    [86400, 3600, ' hour'], [604800, 86400, ' day'], [31536000, 604800, ' week'], [Infinity, 3.15569e7, ' year'],
  ]);
  return (abs) => (abs === 0 ? { div: 1, suffix: ' s' } : t(abs));
})();
const T_M = timeTable([
  [60, 1, ' min'], [1440, 60, ' hour'], [10080, 1440, ' day'], [604800, 10080, ' week'], [Infinity, 5.25948e5, ' year'],
]);
const T_H = timeTable([[24, 1, ' hour'], [168, 24, ' day'], [8760, 168, ' week'], [Infinity, 8760, ' year']]);
const T_D = timeTable([[7, 1, ' day'], [365, 7, ' week'], [Infinity, 365, ' year']]);

// ---- special formatters: (value, decimals, opts) -> string -------------------

const DURATION_UNITS = [
  ['year', 31536000000], ['month', 2592000000], ['week', 604800000], ['day', 86400000],
  ['hour', 3600000], ['minute', 60000], ['second', 1000], ['millisecond', 1],
];

function duration(scaleMs, base) {
  const fn = (value, decimals) => {
    if (value === 0) return '0 ' + base + 's';
    if (value < 0) return fn(-value, decimals) + ' ago';
    let size = value * scaleMs;
    let left = decimals === null || decimals === undefined ? 0 : decimals;
    const parts = [];
    let started = false;
    for (let i = 0; i < DURATION_UNITS.length && left >= 0; i++) {
      const [name, ms] = DURATION_UNITS[i];
      const v = size / ms;
      if (v >= 1 || started) {
        started = true;
        const floor = Math.floor(v);
        parts.push(floor + ' ' + name + (floor !== 1 ? 's' : ''));
        size = size % ms;
        left--;
      }
    }
    return parts.join(', ');
  };
  return fn;
}

function pad(n, w = 2) {
  return String(Math.floor(Math.abs(n))).padStart(w, '0');
}

function clock(value, decimals) {
  const size = value;
  const ms = pad(size % 1000, 3);
  const s = pad(Math.floor(size / 1000) % 60);
  const m = pad(Math.floor(size / 60000) % 60);
  if (size < 1000) return ms + 'ms';
  if (size < 60000) return decimals === 0 ? s + 's' : `${s}s:${ms}ms`;
  if (size < 3600000) {
    if (decimals === 0) return m + 'm';
    if (decimals === 1) return `${m}m:${s}s`;
    return `${m}m:${s}s:${ms}ms`;
  }
  const h = pad(Math.floor(size / 3600000)) + 'h';
  if (decimals === 0) return h;
  if (decimals === 1) return `${h}:${m}m`;
  if (decimals === 2) return `${h}:${m}m:${s}s`;
  return `${h}:${m}m:${s}s:${ms}ms`;
}

function dhms(withDays) {
  const fn = (value) => {
    if (value < 0) return fn(-value) + ' ago';
    let days = '';
    let size = value;
    if (withDays) {
      const d = Math.floor(size / 86400);
      if (d > 0) days = d + ' d ';
      size -= d * 86400;
    }
    return days + [pad(size / 3600), pad((size % 3600) / 60), pad(size % 60)].join(':');
  };
  return fn;
}

/**
 * Calendar fields of an instant in a time zone.
 * @param {number} ms Unix epoch milliseconds
 * @param {string} [timezone='browser'] 'browser' (local), 'utc', or an IANA zone name
 * @returns {{year:number, month:number, day:number, hour:number, minute:number, second:number, millisecond:number}}
 *   month is 1..12
 */
export function dateParts(ms, timezone = 'browser') {
  const d = new Date(ms);
  if (!timezone || timezone === 'browser') {
    return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(),
      minute: d.getMinutes(), second: d.getSeconds(), millisecond: d.getMilliseconds() };
  }
  if (timezone === 'utc' || timezone === 'UTC') {
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(),
      minute: d.getUTCMinutes(), second: d.getUTCSeconds(), millisecond: d.getUTCMilliseconds() };
  }
  const parts = {};
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric',
    month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  for (const p of fmt.formatToParts(d)) parts[p.type] = Number(p.value);
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour % 24, minute: parts.minute,
    second: parts.second, millisecond: ((ms % 1000) + 1000) % 1000 };
}

/**
 * Formats an instant with moment-style tokens: YYYY YY MM M DD D HH H hh h mm m ss s SSS A a;
 * text in [brackets] is literal.
 * @param {number} ms Unix epoch milliseconds
 * @param {string} pattern e.g. 'YYYY-MM-DD HH:mm:ss'
 * @param {string} [timezone='browser'] 'browser', 'utc' or an IANA zone
 * @returns {string}
 */
export function formatDate(ms, pattern, timezone = 'browser') {
  const p = dateParts(ms, timezone);
  const h12 = p.hour % 12 === 0 ? 12 : p.hour % 12;
  const tokens = {
    YYYY: () => String(p.year).padStart(4, '0'), YY: () => pad(p.year % 100), MM: () => pad(p.month),
    M: () => String(p.month), DD: () => pad(p.day), D: () => String(p.day), HH: () => pad(p.hour),
    H: () => String(p.hour), hh: () => pad(h12), h: () => String(h12), mm: () => pad(p.minute),
    m: () => String(p.minute), ss: () => pad(p.second), s: () => String(p.second), SSS: () => pad(p.millisecond, 3),
    A: () => (p.hour < 12 ? 'AM' : 'PM'), a: () => (p.hour < 12 ? 'am' : 'pm'),
  };
  return pattern.replace(/\[([^\]]*)\]|YYYY|YY|SSS|MM|M|DD|D|HH|H|hh|h|mm|m|ss|s|A|a/g, (t, lit) =>
    lit !== undefined ? lit : tokens[t]());
}

function dateFormatter(pattern, todayPattern) {
  return (value, decimals, opts) => {
    const tz = opts.timezone || 'browser';
    if (todayPattern) {
      const now = dateParts(opts.nowMs ?? Date.now(), tz);
      const p = dateParts(value, tz);
      if (now.year === p.year && now.month === p.month && now.day === p.day) return formatDate(value, todayPattern, tz);
    }
    return formatDate(value, pattern, tz);
  };
}

function hex(value, decimals) {
  return parseFloat(toFixed(value, decimals)).toString(16).toUpperCase();
}

function bool(t, f) {
  const fn = (value) => (value ? t : f);
  fn.acceptsNonFinite = true;
  return fn;
}

// ---- the unit table ---------------------------------------------------------

const G_MISC = 'Misc', G_DATA = 'Data', G_RATE = 'Data rate', G_TIME = 'Time', G_THRU = 'Throughput';
const G_DATE = 'Date & time', G_TEMP = 'Temperature', G_CUR = 'Currency', G_BOOL = 'Boolean', G_EN = 'Energy';

// [id, label, group, scaler | {fmt}]
const TABLE = [
  ['none', 'Number', G_MISC, fixed('')],
  ['short', 'short', G_MISC, scaledUnits(1000, ['', ' K', ' Mil', ' Bil', ' Tri', ' Quadr', ' Quint', ' Sext', ' Sept'])],
  ['percent', 'Percent (0-100)', G_MISC, () => ({ div: 1, suffix: '%' })],
  ['percentunit', 'Percent (0.0-1.0)', G_MISC, () => ({ mul: 100, suffix: '%' })],
  ['humidity', 'Humidity (%H)', G_MISC, fixed('%H')],
  ['dB', 'Decibel', G_MISC, fixed('dB')],
  ['hex0x', 'Hexadecimal (0x)', G_MISC, { fmt: (v, d) => (v < 0 ? '-0x' + hex(-v, d) : '0x' + hex(v, d)) }],
  ['hex', 'Hexadecimal', G_MISC, { fmt: (v, d) => (v < 0 ? '-' + hex(-v, d) : hex(v, d)) }],
  ['sci', 'Scientific notation', G_MISC, { fmt: (v, d) => v.toExponential(d === null || d === undefined ? undefined : Math.max(0, Math.min(100, d))) }],
  ['locale', 'Locale format', G_MISC, { fmt: (v, d) => v.toLocaleString(undefined, d === null || d === undefined ? {} : { maximumFractionDigits: Math.max(0, Math.min(20, d)) }) }],
  ['pixel', 'Pixels', G_MISC, fixed('px')],

  ['bytes', 'bytes(IEC)', G_DATA, binPrefix('B')],
  ['decbytes', 'bytes(SI)', G_DATA, siPrefix('B')],
  ['bits', 'bits(IEC)', G_DATA, binPrefix('b')],
  ['decbits', 'bits(SI)', G_DATA, siPrefix('b')],
  ['kbytes', 'kibibytes', G_DATA, binPrefix('B', 1)],
  ['deckbytes', 'kilobytes', G_DATA, siPrefix('B', 1)],
  ['mbytes', 'mebibytes', G_DATA, binPrefix('B', 2)],
  ['decmbytes', 'megabytes', G_DATA, siPrefix('B', 2)],
  ['gbytes', 'gibibytes', G_DATA, binPrefix('B', 3)],
  ['decgbytes', 'gigabytes', G_DATA, siPrefix('B', 3)],
  ['tbytes', 'tebibytes', G_DATA, binPrefix('B', 4)],
  ['dectbytes', 'terabytes', G_DATA, siPrefix('B', 4)],

  ['pps', 'packets/sec', G_RATE, siPrefix('p/s')],
  ['binBps', 'bytes/sec(IEC)', G_RATE, binPrefix('B/s')],
  ['Bps', 'bytes/sec(SI)', G_RATE, siPrefix('B/s')],
  ['binbps', 'bits/sec(IEC)', G_RATE, binPrefix('b/s')],
  ['bps', 'bits/sec(SI)', G_RATE, siPrefix('b/s')],
  ['KiBs', 'kibibytes/sec', G_RATE, binPrefix('B/s', 1)],
  ['Kibits', 'kibibits/sec', G_RATE, binPrefix('b/s', 1)],
  ['KBs', 'kilobytes/sec', G_RATE, siPrefix('B/s', 1)],
  ['Kbits', 'kilobits/sec', G_RATE, siPrefix('b/s', 1)],
  ['MiBs', 'mebibytes/sec', G_RATE, binPrefix('B/s', 2)],
  ['Mibits', 'mebibits/sec', G_RATE, binPrefix('b/s', 2)],
  ['MBs', 'megabytes/sec', G_RATE, siPrefix('B/s', 2)],
  ['Mbits', 'megabits/sec', G_RATE, siPrefix('b/s', 2)],
  ['GBs', 'gigabytes/sec', G_RATE, siPrefix('B/s', 3)],
  ['Gbits', 'gigabits/sec', G_RATE, siPrefix('b/s', 3)],

  ['hertz', 'Hertz (1/s)', G_TIME, siPrefix('Hz')],
  ['ns', 'nanoseconds (ns)', G_TIME, T_NS],
  ['µs', 'microseconds (µs)', G_TIME, T_US],
  ['ms', 'milliseconds (ms)', G_TIME, T_MS],
  ['s', 'seconds (s)', G_TIME, T_S],
  ['m', 'minutes (m)', G_TIME, T_M],
  ['h', 'hours (h)', G_TIME, T_H],
  ['d', 'days (d)', G_TIME, T_D],
  ['dtdurationms', 'duration (ms)', G_TIME, { fmt: duration(1, 'millisecond') }],
  ['dtdurations', 'duration (s)', G_TIME, { fmt: duration(1000, 'second') }],
  ['dthms', 'duration (hh:mm:ss)', G_TIME, { fmt: dhms(false) }],
  ['dtdhms', 'duration (d hh:mm:ss)', G_TIME, { fmt: dhms(true) }],
  ['timeticks', 'Timeticks (s/100)', G_TIME, T_S, { pre: 0.01 }],
  ['clockms', 'clock (ms)', G_TIME, { fmt: (v, d) => clock(v, d) }],
  ['clocks', 'clock (s)', G_TIME, { fmt: (v, d) => clock(v * 1000, d) }],

  ['cps', 'counts/sec (cps)', G_THRU, count('cps')],
  ['ops', 'ops/sec (ops)', G_THRU, count('ops')],
  ['reqps', 'requests/sec (rps)', G_THRU, count('reqps')],
  ['rps', 'reads/sec (rps)', G_THRU, count('rps')],
  ['wps', 'writes/sec (wps)', G_THRU, count('wps')],
  ['iops', 'I/O ops/sec (iops)', G_THRU, count('iops')],
  ['cpm', 'counts/min (cpm)', G_THRU, count('cpm')],
  ['opm', 'ops/min (opm)', G_THRU, count('opm')],
  ['rpm', 'reads/min (rpm)', G_THRU, count('rpm')],
  ['wpm', 'writes/min (wpm)', G_THRU, count('wpm')],

  ['dateTimeAsIso', 'Datetime ISO', G_DATE, { fmt: dateFormatter('YYYY-MM-DD HH:mm:ss') }],
  ['dateTimeAsIsoNoDateIfToday', 'Datetime ISO (No date if today)', G_DATE, { fmt: dateFormatter('YYYY-MM-DD HH:mm:ss', 'HH:mm:ss') }],
  ['dateTimeAsUS', 'Datetime US', G_DATE, { fmt: dateFormatter('MM/DD/YYYY h:mm:ss a') }],
  ['dateTimeAsUSNoDateIfToday', 'Datetime US (No date if today)', G_DATE, { fmt: dateFormatter('MM/DD/YYYY h:mm:ss a', 'h:mm:ss a') }],
  ['dateTimeAsSystem', 'Datetime default', G_DATE, { fmt: dateFormatter('YYYY-MM-DD HH:mm:ss') }],

  ['celsius', 'Celsius (°C)', G_TEMP, fixed('°C')],
  ['fahrenheit', 'Fahrenheit (°F)', G_TEMP, fixed('°F')],
  ['kelvin', 'Kelvin (K)', G_TEMP, fixed('K')],

  ['currencyUSD', 'Dollars ($)', G_CUR, currency('$')],
  ['currencyGBP', 'Pounds (£)', G_CUR, currency('£')],
  ['currencyEUR', 'Euro (€)', G_CUR, currency('€')],
  ['currencyJPY', 'Yen (¥)', G_CUR, currency('¥')],
  ['currencySEK', 'Swedish Krona (kr)', G_CUR, currency('kr', true)],

  ['watt', 'Watt (W)', G_EN, siPrefix('W')],
  ['kwatt', 'Kilowatt (kW)', G_EN, siPrefix('W', 1)],
  ['watth', 'Watt-hour (Wh)', G_EN, siPrefix('Wh')],
  ['kwatth', 'Kilowatt-hour (kWh)', G_EN, siPrefix('Wh', 1)],
  ['joule', 'Joule (J)', G_EN, siPrefix('J')],
  ['amp', 'Ampere (A)', G_EN, siPrefix('A')],
  ['volt', 'Volt (V)', G_EN, siPrefix('V')],

  ['bool', 'True / False', G_BOOL, { fmt: bool('True', 'False') }],
  ['bool_yes_no', 'Yes / No', G_BOOL, { fmt: bool('Yes', 'No') }],
  ['bool_on_off', 'On / Off', G_BOOL, { fmt: bool('On', 'Off') }],
];

const INDEX = new Map();
for (const [id, label, group, impl, extra] of TABLE) INDEX.set(id, { id, label, group, impl, pre: extra?.pre ?? 1 });
INDEX.set('farenheit', INDEX.get('fahrenheit'));

function resolve(unit) {
  if (!unit) return INDEX.get('none');
  const known = INDEX.get(unit);
  if (known) return known;
  const i = unit.indexOf(':');
  if (i > 0) {
    const key = unit.slice(0, i);
    const sub = unit.slice(i + 1);
    switch (key) {
      case 'prefix': return { impl: fixed(sub, true), pre: 1 };
      case 'suffix': return { impl: fixed(sub, false), pre: 1 };
      case 'count': return { impl: count(sub), pre: 1 };
      case 'currency': return { impl: currency(sub), pre: 1 };
      case 'time': return { impl: { fmt: dateFormatter(sub) }, pre: 1 };
      case 'si': {
        const first = sub.charAt(0) === 'μ' ? 'µ' : sub.charAt(0);
        const at = SI.indexOf(first);
        const offset = at >= 0 && first !== '' && sub.length > 1 ? at - SI_BASE : 0;
        return { impl: siPrefix(offset === 0 ? sub : sub.slice(1), offset), pre: 1 };
      }
      case 'bool': {
        const j = sub.indexOf('/');
        return { impl: { fmt: j >= 0 ? bool(sub.slice(0, j), sub.slice(j + 1)) : bool(sub, '-') }, pre: 1 };
      }
      default:
    }
  }
  return { impl: fixed(unit), pre: 1 };
}

function nonFinite(value) {
  if (value === null || value === undefined) return '';
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return INF;
  if (value === -Infinity) return '-' + INF;
  return null;
}

function applyScale(value, decimals, sc, signOutside) {
  let v = value;
  let neg = '';
  if (signOutside && v < 0) {
    neg = '-';
    v = -v;
  }
  const scaled = sc.mul ? v * sc.mul : v / sc.div;
  return neg + (sc.prefix || '') + toFixed(scaled, decimals) + (sc.suffix || '');
}

/**
 * Formats a number with a Grafana unit id.
 * @param {number|null|undefined} value the raw value, in the unit's base (e.g. `ms` takes milliseconds,
 *   `s` seconds, `dateTimeAsIso` Unix epoch milliseconds, `percentunit` a ratio 0..1)
 * @param {string} [unit='none'] Grafana unit id (`short`, `bytes`, `s`, `prefix:$`, …); unknown ids become a suffix
 * @param {number|null} [decimals] digits after the point; null/undefined = Grafana's automatic decimals
 * @param {{timezone?: string, nowMs?: number}} [opts] time zone for date units ('browser', 'utc', IANA)
 * @returns {string} e.g. formatValue(1536, 'bytes') === '1.50 KiB'; null -> '', NaN -> 'NaN', ±Infinity -> '∞'/'-∞'
 */
export function formatValue(value, unit = 'none', decimals = undefined, opts = {}) {
  const u = resolve(unit);
  if (typeof value === 'boolean' && u.impl.fmt && u.impl.fmt.acceptsNonFinite) return u.impl.fmt(value, decimals, opts);
  if (typeof value === 'string' && value.trim() !== '') value = Number(value);
  const bad = nonFinite(value);
  if (bad !== null) return bad;
  if (u.impl.fmt) return u.impl.fmt(value, decimals, opts);
  const v = value * u.pre;
  return applyScale(v, decimals, u.impl(Math.abs(v)), u.impl.signOutside);
}

function decimalsForStep(step) {
  if (!(step > 0) || !Number.isFinite(step)) return 0;
  const s = String(Math.round(step * 1e6) / 1e6);
  if (s.includes('e-')) return Math.min(20, Number(s.split('e-')[1]) + (s.split('e')[0].split('.')[1] || '').length);
  const dot = s.indexOf('.');
  return dot === -1 ? 0 : s.length - dot - 1;
}

/**
 * Makes an axis tick formatter: all ticks of one axis share one scale (picked from the largest
 * absolute tick) and one number of decimals (explicit, or enough to tell adjacent ticks apart).
 * Units without a numeric scale (dates, durations, clock, bool, hex, …) format each tick alone.
 * @param {string} [unit='none'] Grafana unit id
 * @param {number|null} [decimals] explicit decimals, or null/undefined for automatic
 * @param {{timezone?: string}} [opts]
 * @returns {(values: number[]) => string[]}
 */
export function axisTicksFormatter(unit = 'none', decimals = undefined, opts = {}) {
  const u = resolve(unit);
  return (values) => {
    if (u.impl.fmt) return values.map((v) => formatValue(v, unit, decimals, opts));
    const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).map((v) => v * u.pre);
    if (!finite.length) return values.map((v) => nonFinite(v) ?? '');
    const maxAbs = Math.max(...finite.map(Math.abs));
    const sc = u.impl(maxAbs);
    let dec = decimals;
    if (dec === null || dec === undefined) {
      const scaled = [...new Set(finite.map((v) => (sc.mul ? v * sc.mul : v / sc.div)))].sort((a, b) => a - b);
      let step = Infinity;
      for (let i = 1; i < scaled.length; i++) step = Math.min(step, scaled[i] - scaled[i - 1]);
      dec = scaled.length > 1 ? decimalsForStep(step) : autoDecimals(scaled[0]);
    }
    return values.map((v) => {
      const bad = nonFinite(v);
      return bad !== null ? bad : applyScale(v * u.pre, dec, sc, u.impl.signOutside);
    });
  };
}

/**
 * The units for a unit picker, in display order.
 * @returns {{id: string, label: string, group: string}[]}
 */
export function listUnits() {
  return TABLE.map(([id, label, group]) => ({ id, label, group }));
}
