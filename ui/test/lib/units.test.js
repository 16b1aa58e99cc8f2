import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatValue, toFixed, axisTicksFormatter, listUnits, formatDate, autoDecimals } from '../../src/lib/units.js';

// [unit, decimals, value, expected]
// Rows marked G: expected values as Grafana's valueFormats.test.ts / symbolFormatters.test.ts /
// dateTimeFormatters.test.ts (packages/grafana-data/src/valueFormats) state.
const CASES = [
  // G: currency, standard, SI, counts, prefix/suffix
  ['currencyUSD', 2, 1532.82, '$1.53K'],
  ['ms', 4, 0.0024, '0.0024 ms'],
  ['ms', 0, 100, '100 ms'],
  ['ms', 2, 1250, '1.25 s'],
  ['ms', 1, 10000086.123, '2.8 hour'],
  ['ms', 0, 1200, '1 s'],
  ['short', 2, 9876543, '9.88 Mil'],
  ['kbytes', 3, 10000000, '9.537 GiB'],
  ['deckbytes', 3, 10000000, '10.000 GB'],
  ['a', 0, 1532.82, '1533 a'],
  ['b', 0, 1532.82, '1533 b'],
  ['prefix:b', undefined, 1532.82, 'b1533'],
  ['suffix:d', undefined, 1532.82, '1533 d'],
  ['si:µF', 2, 1234, '1.23 mF'],
  ['si:µF', 2, 1234000000, '1.23 kF'],
  ['si:µF', 2, 1234000000000000, '1.23 GF'],
  ['count:xpm', 2, 1234567, '1.23M xpm'],
  ['count:x/min', 2, 1234, '1.23K x/min'],
  ['currency:@', 2, 1234567, '@1.23M'],
  ['currency:@', 2, 1234, '@1.23K'],
  // G: currency prefix/suffix and sign (symbolFormatters tests)
  ['currency:@', undefined, 0, '@0'],
  ['currency:@', undefined, 999, '@999'],
  ['currency:@', undefined, 1000000000000000, '@1000T'],
  ['currency:@', undefined, -1000, '-@1K'],
  ['currencySEK', undefined, 1000, '1Kkr'],
  ['currencySEK', undefined, -999, '-999kr'],
  // G: SIPrefix('V') table
  ['volt', undefined, 0, '0 V'],
  ['volt', undefined, 999, '999 V'],
  ['volt', undefined, 1000, '1 kV'],
  ['volt', undefined, 1e15, '1 PV'],
  ['volt', undefined, -1e12, '-1 TV'],
  ['volt', undefined, -999, '-999 V'],
  // G: durations and clock
  ['dtdurationms', 0, 0, '0 milliseconds'],
  ['dtdurationms', 0, 1, '1 millisecond'],
  ['dtdurationms', 0, -1, '1 millisecond ago'],
  ['dtdurations', 0, 1, '1 second'],
  ['dtdurationms', 0, 38898367008, '1 year'],
  ['dtdurationms', 1, 38898367008, '1 year, 2 months'],
  ['dtdurationms', 20, 38898367008, '1 year, 2 months, 3 weeks, 4 days, 5 hours, 6 minutes, 7 seconds, 8 milliseconds'],
  ['dtdurationms', 8, 36993906007, '1 year, 2 months, 0 weeks, 3 days, 4 hours, 5 minutes, 6 seconds, 7 milliseconds'],
  ['dthms', undefined, 1, '00:00:01'],
  ['dthms', undefined, -1, '00:00:01 ago'],
  ['dtdhms', undefined, 86399, '23:59:59'],
  ['dtdhms', undefined, 86400, '1 d 00:00:00'],
  ['dtdhms', undefined, 1179811, '13 d 15:43:31'],
  ['dtdhms', undefined, 116876364, '1352 d 17:39:24'],
  ['clockms', 0, 999, '999ms'],
  ['clockms', undefined, 59999, '59s:999ms'],
  ['clockms', 0, 59999, '59s'],
  ['clockms', undefined, 3599999, '59m:59s:999ms'],
  ['clockms', 1, 3599999, '59m:59s'],
  ['clockms', undefined, 7199999, '01h:59m:59s:999ms'],
  ['clockms', 0, 7199999, '01h'],
  ['clockms', 2, 7199999, '01h:59m:59s'],
  ['clockms', undefined, 89999999, '24h:59m:59s:999ms'],
  ['clockms', 1, 89999999, '24h:59m'],

  // Automatic decimals (Grafana's toFixed without decimals) and scaling
  ['none', undefined, 100, '100'],
  ['none', undefined, 100.4, '100'],
  ['none', undefined, 0.0024, '0.00240'],
  ['short', undefined, 1234567, '1.23 Mil'],
  ['short', undefined, 98765, '98.8 K'],
  ['short', undefined, 999, '999'],
  ['short', undefined, 1e12, '1 Tri'],
  ['short', undefined, 0.5, '0.500'],
  ['percent', undefined, 42, '42%'],
  ['percent', 1, 42.123, '42.1%'],
  ['percentunit', undefined, 0.5, '50%'],
  ['percentunit', 1, 0.1234, '12.3%'],
  ['bytes', undefined, 1536, '1.50 KiB'],
  ['bytes', undefined, 1024 * 1024, '1 MiB'],
  ['bytes', 1, 5.5 * 1024 ** 3, '5.5 GiB'],
  ['bytes', undefined, 512, '512 B'],
  ['decbytes', undefined, 1e6, '1 MB'],
  ['decbytes', 1, 1500, '1.5 kB'],
  ['decbytes', undefined, 0.5, '500 mB'],
  ['bits', undefined, 2048, '2 Kib'],
  ['decbits', undefined, 2000, '2 kb'],
  ['bps', undefined, 2e6, '2 Mb/s'],
  ['bps', 1, 1500, '1.5 kb/s'],
  ['Bps', undefined, 3e9, '3 GB/s'],
  ['binBps', undefined, 1024, '1 KiB/s'],
  ['binbps', undefined, 1024 * 1024, '1 Mib/s'],
  ['KBs', undefined, 1500, '1.50 MB/s'],
  ['MBs', undefined, 2, '2 MB/s'],
  ['s', undefined, 1.5, '1.50 s'],
  ['s', 2, 120, '2.00 min'],
  ['s', undefined, 120, '2 min'],
  ['s', 2, 10800, '3.00 hour'],
  ['s', undefined, 0, '0 s'],
  ['s', undefined, 0.0015, '1.50 ms'],
  ['s', undefined, 0.000002, '2 µs'],
  ['s', undefined, 3e-9, '3 ns'],
  ['s', undefined, 86400 * 2, '2 day'],
  ['s', undefined, 604800 * 3, '3 week'],
  ['s', undefined, -90, '-1.50 min'],
  ['ms', undefined, 90000, '1.50 min'],
  ['ms', undefined, 86400000 * 3, '3 day'],
  ['µs', undefined, 1500, '1.50 ms'],
  ['µs', undefined, 2e6, '2 s'],
  ['ns', undefined, 1500, '1.50 µs'],
  ['ns', undefined, 2e9, '2 s'],
  ['m', undefined, 90, '1.50 hour'],
  ['h', undefined, 48, '2 day'],
  ['d', undefined, 14, '2 week'],
  ['d', undefined, 730, '2 year'],
  ['ops', 2, 1234, '1.23K ops'],
  ['ops', undefined, 5, '5 ops'],
  ['reqps', undefined, 2000000, '2M reqps'],
  ['rps', undefined, 3, '3 rps'],
  ['wps', undefined, 3, '3 wps'],
  ['rpm', undefined, 3, '3 rpm'],
  ['iops', undefined, 1500, '1.50K iops'],
  ['hertz', undefined, 2500, '2.50 kHz'],
  ['celsius', 1, 21.55, '21.6 °C'],
  ['fahrenheit', undefined, 70, '70 °F'],
  ['farenheit', undefined, 70, '70 °F'],
  ['currencyEUR', undefined, 12, '€12'],
  ['currencyUSD', undefined, 0.5, '$0.500'],
  ['bool', undefined, 1, 'True'],
  ['bool', undefined, 0, 'False'],
  ['bool_yes_no', undefined, 1, 'Yes'],
  ['bool_on_off', undefined, 0, 'Off'],
  ['bool:up/down', undefined, 1, 'up'],
  ['hex', undefined, 255, 'FF'],
  ['hex0x', undefined, 255, '0xFF'],
  ['hex0x', undefined, -255, '-0xFF'],
  ['sci', 2, 1234, '1.23e+3'],
  ['sci', undefined, 1500, '1.5e+3'],
  ['locale', 2, 1234567.891, (1234567.891).toLocaleString(undefined, { maximumFractionDigits: 2 })],
  ['dateTimeAsIso', undefined, Date.UTC(2010, 6, 2), '2010-07-02 00:00:00', { timezone: 'utc' }],
  ['dateTimeAsUS', undefined, Date.UTC(2010, 6, 2), '07/02/2010 12:00:00 am', { timezone: 'utc' }],
  ['dateTimeAsIso', undefined, new Date(2010, 6, 2).getTime(), '2010-07-02 00:00:00'],
  ['time:YYYY.MM', undefined, new Date(2010, 6, 2).getTime(), '2010.07'],
  ['dateTimeAsIso', undefined, Date.UTC(2017, 8, 17, 7, 56, 37), '2017-09-17 09:56:37', { timezone: 'Europe/Berlin' }],
];

test('formatValue table', () => {
  for (const [unit, decimals, value, expected, opts] of CASES) {
    assert.equal(formatValue(value, unit, decimals, opts), expected, `${unit} ${decimals} ${value}`);
  }
});

test('non-numbers and infinities, with any unit', () => {
  for (const unit of ['none', 'short', 'bytes', 's', 'ms', 'percentunit', 'currencyUSD', 'dateTimeAsIso', 'suffix:x']) {
    assert.equal(formatValue(null, unit), '');
    assert.equal(formatValue(undefined, unit), '');
    assert.equal(formatValue(NaN, unit), 'NaN');
    assert.equal(formatValue(Infinity, unit), '∞');
    assert.equal(formatValue(-Infinity, unit), '-∞');
  }
  assert.equal(formatValue('1536', 'bytes'), '1.50 KiB');
});

test('toFixed as Grafana (valueFormats.test.ts)', () => {
  assert.equal(toFixed(100), '100');
  assert.equal(toFixed(100.4), '100');
  assert.equal(toFixed(100.5), '101');
  assert.equal(toFixed(100, 1), '100.0');
  assert.equal(toFixed(100.37, 1), '100.4');
  assert.equal(toFixed(100.63, 1), '100.6');
  assert.equal(toFixed(100.4, 2), '100.40');
  assert.equal(toFixed(100.5, 2), '100.50');
  assert.equal(toFixed(186.123, -2), '186');
  assert.equal(toFixed(NaN), 'NaN');
  assert.equal(toFixed(0, 2), '0.00');
  assert.equal(toFixed(1e300), '1e+300');
  assert.equal(toFixed(-1.5), '-1.50');
  assert.equal(autoDecimals(0.25), 3);
  assert.equal(autoDecimals(7), 0);
});

test('huge and tiny values do not throw', () => {
  assert.equal(formatValue(1e30, 'short'), '1000000 Sept');
  assert.equal(formatValue(1e30, 'bytes'), '827181 YiB');
  assert.match(formatValue(1e-20, 'decbytes'), / fB$/);
  assert.equal(formatValue(Number.MAX_VALUE, 'none'), '1.7976931348623157e+308');
  assert.match(formatValue(1e12, 's'), / year$/);
});

test('axisTicksFormatter: one scale and decimals for all ticks', () => {
  assert.deepEqual(axisTicksFormatter('s')([0, 1800, 3600, 5400, 7200]),
    ['0.0 hour', '0.5 hour', '1.0 hour', '1.5 hour', '2.0 hour']);
  assert.deepEqual(axisTicksFormatter('bytes')([0, 512, 1024, 1536]), ['0.0 KiB', '0.5 KiB', '1.0 KiB', '1.5 KiB']);
  assert.deepEqual(axisTicksFormatter('short')([0, 0.25, 0.5]), ['0.00', '0.25', '0.50']);
  assert.deepEqual(axisTicksFormatter('short')([0, 2000, 4000]), ['0 K', '2 K', '4 K']);
  assert.deepEqual(axisTicksFormatter('percentunit')([0, 0.2, 0.4]), ['0%', '20%', '40%']);
  assert.deepEqual(axisTicksFormatter('short', 1)([0, 1, 2]), ['0.0', '1.0', '2.0']);
  assert.deepEqual(axisTicksFormatter('bytes')([]), []);
  assert.deepEqual(axisTicksFormatter('short')([NaN, null]), ['NaN', '']);
  assert.deepEqual(axisTicksFormatter('short')([5]), ['5']);
  assert.deepEqual(axisTicksFormatter('currencyUSD')([-1000, 0, 1000]), ['-$1K', '$0K', '$1K']);
  assert.deepEqual(axisTicksFormatter('dateTimeAsIso', null, { timezone: 'utc' })([0]), ['1970-01-01 00:00:00']);
  assert.deepEqual(axisTicksFormatter('s')([0, 0.1, 0.2]), ['0 ms', '100 ms', '200 ms']);
});

test('listUnits: unique ids with labels and groups, all formattable', () => {
  const units = listUnits();
  assert.ok(units.length > 50);
  assert.equal(new Set(units.map((u) => u.id)).size, units.length);
  for (const u of units) {
    assert.ok(u.label && u.group, u.id);
    assert.equal(typeof formatValue(1234.5, u.id), 'string');
  }
  for (const id of ['none', 'short', 'percent', 'percentunit', 'bytes', 'decbytes', 'bits', 'decbits', 'bps', 'Bps', 'binBps',
    'binbps', 'KBs', 'MBs', 's', 'ms', 'µs', 'ns', 'm', 'h', 'd', 'dtdurations', 'dtdurationms', 'clockms', 'ops', 'reqps',
    'rps', 'wps', 'rpm', 'iops', 'hertz', 'celsius', 'fahrenheit', 'currencyUSD', 'currencyEUR', 'dateTimeAsIso', 'bool',
    'bool_yes_no', 'locale', 'sci', 'hex']) {
    assert.ok(units.some((u) => u.id === id), id);
  }
});

test('formatDate tokens', () => {
  const t = Date.UTC(2024, 0, 5, 13, 4, 9, 7);
  assert.equal(formatDate(t, 'YYYY-MM-DD HH:mm:ss.SSS', 'utc'), '2024-01-05 13:04:09.007');
  assert.equal(formatDate(t, 'M/D/YY h:m:s A [at] a', 'utc'), '1/5/24 1:4:9 PM at pm');
});
