import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseTime, parseDuration, formatDuration, chooseStep, describeRange, QUICK_RANGES, REFRESH_INTERVALS,
  NICE_STEPS, formatTime, isRelative,
} from '../../src/lib/time.js';

// Wednesday 2024-03-13 14:25:36.789 UTC
const NOW = Date.UTC(2024, 2, 13, 14, 25, 36, 789);
const U = { timezone: 'utc' };
const UP = { timezone: 'utc', roundUp: true };
const H = 3600e3;
const D = 24 * H;

test('date math relative to now (cases as Grafana dateMath.test.ts: now, now-Nu, now/u, roundUp)', () => {
  const cases = [
    ['now', U, NOW],
    ['now-1h', U, NOW - H],
    ['now-24h', U, NOW - D],
    ['now+3d', U, NOW + 3 * D],
    ['now-5m', U, NOW - 5 * 60e3],
    ['now-30s', U, NOW - 30e3],
    ['now-1s', U, NOW - 1e3],
    ['now-7d/d', U, Date.UTC(2024, 2, 6)],
    ['now-7d/d', UP, Date.UTC(2024, 2, 7) - 1],
    ['now/d', U, Date.UTC(2024, 2, 13)],
    ['now/d', UP, Date.UTC(2024, 2, 14) - 1],
    ['now/h', U, Date.UTC(2024, 2, 13, 14)],
    ['now/m', UP, Date.UTC(2024, 2, 13, 14, 26) - 1],
    ['now/s', U, Date.UTC(2024, 2, 13, 14, 25, 36)],
    ['now/w', U, Date.UTC(2024, 2, 10)], // Sunday, moment's default week start
    ['now/w', { timezone: 'utc', weekStart: 1 }, Date.UTC(2024, 2, 11)],
    ['now/w', UP, Date.UTC(2024, 2, 17) - 1],
    ['now/M', U, Date.UTC(2024, 2, 1)],
    ['now/M', UP, Date.UTC(2024, 3, 1) - 1],
    ['now/y', U, Date.UTC(2024, 0, 1)],
    ['now/y', UP, Date.UTC(2025, 0, 1) - 1],
    ['now-1M/M', U, Date.UTC(2024, 1, 1)],
    ['now-1M/M', UP, Date.UTC(2024, 2, 1) - 1],
    ['now-1y', U, Date.UTC(2023, 2, 13, 14, 25, 36, 789)],
    ['now-1w', U, NOW - 7 * D],
    ['now-d', U, NOW - D],
    ['now/d+6h', U, Date.UTC(2024, 2, 13, 6)],
    ['now-1d/d', U, Date.UTC(2024, 2, 12)],
    [' now - 1h ', U, NOW - H],
  ];
  for (const [text, opts, want] of cases) assert.equal(parseTime(text, NOW, opts), want, `${text} ${JSON.stringify(opts)}`);
});

test('month arithmetic clamps the day like moment', () => {
  const jan31 = Date.UTC(2023, 0, 31, 10);
  assert.equal(parseTime('now+1M', jan31, U), Date.UTC(2023, 1, 28, 10));
  assert.equal(parseTime('now-13M', jan31, U), Date.UTC(2021, 11, 31, 10));
  assert.equal(parseTime('now+1y', Date.UTC(2024, 1, 29), U), Date.UTC(2025, 1, 28));
});

test('browser time zone rounds in local time', () => {
  const local = new Date(2024, 2, 13, 14, 25).getTime();
  assert.equal(parseTime('now/d', local), new Date(2024, 2, 13).getTime());
  assert.equal(parseTime('now/d', local, { roundUp: true }), new Date(2024, 2, 14).getTime() - 1);
  assert.equal(parseTime('2024-03-13 10:00', NOW), new Date(2024, 2, 13, 10).getTime());
});

test('absolute times', () => {
  assert.equal(parseTime('1700000000000', NOW), 1700000000000);
  assert.equal(parseTime(1700000000000, NOW), 1700000000000);
  assert.equal(parseTime('2024-01-02T03:04:05Z', NOW), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(parseTime('2024-01-02T03:04:05.250Z', NOW), Date.UTC(2024, 0, 2, 3, 4, 5, 250));
  assert.equal(parseTime('2024-01-02T03:04:05+02:00', NOW), Date.UTC(2024, 0, 2, 1, 4, 5));
  assert.equal(parseTime('2024-01-02T03:04:05-0130', NOW), Date.UTC(2024, 0, 2, 4, 34, 5));
  assert.equal(parseTime('2024-01-02', NOW, U), Date.UTC(2024, 0, 2));
  assert.equal(parseTime('20240102', NOW, U), Date.UTC(2024, 0, 2));
  assert.equal(parseTime('20240102T030405', NOW, U), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(parseTime('2024-01-02T00:00:00Z||+1d', NOW), Date.UTC(2024, 0, 3));
  assert.equal(parseTime('2024-01-02T10:00:00Z||/d', NOW, U), Date.UTC(2024, 0, 2));
});

test('bad time text throws an Error naming it', () => {
  for (const bad of ['', 'yesterday', 'now-1x', 'now/2d', 'now&1d', 'now-', '2024-13-01', '2024-02-30', 'now-1h-', null, undefined, {}]) {
    assert.throws(() => parseTime(bad, NOW), (e) => e instanceof Error && e.message.includes(String(bad)), String(bad));
  }
});

test('parseDuration: Prometheus durations, bare number = seconds', () => {
  const cases = [
    ['1h30m', 90 * 60e3], ['500ms', 500], ['1d', D], ['1w', 7 * D], ['1y', 365 * D], ['15s', 15e3], ['0s', 0],
    ['30', 30e3], ['1.5', 1500], ['0', 0], ['2h0m5s', 2 * H + 5e3], ['1y2w3d4h5m6s7ms', 365 * D + 14 * D + 3 * D + 4 * H + 5 * 60e3 + 6e3 + 7],
    [' 5m ', 300e3],
  ];
  for (const [text, want] of cases) assert.equal(parseDuration(text), want, text);
  assert.equal(parseDuration(60), 60e3);
  for (const bad of ['', '1', 'abc', '1m1h', '1.5h', '-1m', '5 m', '1M', 'ms']) {
    if (bad === '1') continue;
    assert.throws(() => parseDuration(bad), (e) => e.message.includes(`"${bad}"`), bad);
  }
});

test('formatDuration: largest exact units', () => {
  const cases = [
    [90 * 60e3, '1h30m'], [300e3, '5m'], [250, '250ms'], [0, '0s'], [D, '1d'], [7 * D, '1w'], [8 * D, '8d'],
    [14 * D, '2w'], [365 * D, '1y'], [366 * D, '366d'], [61e3 + 500, '1m1s500ms'], [-30e3, '-30s'], [15e3, '15s'],
  ];
  for (const [ms, want] of cases) assert.equal(formatDuration(ms), want, String(ms));
});

test('parseDuration(formatDuration(x)) round trips', () => {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 500; i++) {
    const ms = Math.floor(rnd() * 10 ** Math.floor(rnd() * 12));
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});

test('chooseStep', () => {
  assert.equal(chooseStep(0, H, 1000), 5e3); // 3.6 s per px -> 5s
  assert.equal(chooseStep(0, 6 * H, 1200), 30e3); // 18 s -> 30s
  assert.equal(chooseStep(0, D, 1000), 2 * 60e3); // 86.4 s -> 2m
  assert.equal(chooseStep(0, 300e3, 1000), 1e3); // 0.3 s -> 1s floor
  assert.equal(chooseStep(0, H, 1000, 60e3), 60e3); // min step
  assert.equal(chooseStep(0, H, 1000, 45e3), 45e3); // min step used as is
  assert.equal(chooseStep(0, 30 * D, 1000), 1 * H); // 2592 s -> 1h
  assert.equal(chooseStep(0, 365 * D, 10), 365 * D / 10 <= 90 * D ? 90 * D : 365 * D);
  assert.equal(chooseStep(0, 0, 800), 1e3);
  assert.equal(chooseStep(0, H, 0), H); // width clamps to 1
  // never more than 11,000 points
  const step = chooseStep(0, 11000 * 20e3, 100000);
  assert.ok(11000 * 20e3 / step <= 11000);
  for (let i = 0; i < NICE_STEPS.length - 1; i++) assert.ok(NICE_STEPS[i] < NICE_STEPS[i + 1]);
});

test('describeRange', () => {
  assert.equal(describeRange('now-24h', 'now'), 'Last 24 hours');
  assert.equal(describeRange('now-5m', 'now'), 'Last 5 minutes');
  assert.equal(describeRange('now-1h', 'now'), 'Last 1 hour');
  assert.equal(describeRange('now-13h', 'now'), 'Last 13 hours');
  assert.equal(describeRange('now-1M', 'now'), 'Last 1 month');
  assert.equal(describeRange('now/d', 'now/d'), 'Today');
  assert.equal(describeRange('now/d', 'now'), 'Today so far');
  assert.equal(describeRange('now-1d/d', 'now-1d/d'), 'Yesterday');
  assert.equal(describeRange('now-2d', 'now-1d'), 'now-2d to now-1d');
  assert.equal(describeRange(Date.UTC(2024, 0, 2, 3, 4, 5), Date.UTC(2024, 0, 3), { timezone: 'utc' }),
    '2024-01-02 03:04:05 to 2024-01-03 00:00:00');
  assert.equal(describeRange(String(Date.UTC(2024, 0, 2)), 'now', { timezone: 'utc' }), '2024-01-02 00:00:00 to now');
  assert.equal(formatTime(0, 'utc'), '1970-01-01 00:00:00');
});

test('quick ranges and refresh intervals are well formed', () => {
  for (const r of QUICK_RANGES) {
    assert.ok(r.display);
    const f = parseTime(r.from, NOW, U);
    const t = parseTime(r.to, NOW, UP);
    assert.ok(f < t, r.display);
    assert.equal(describeRange(r.from, r.to), r.display);
  }
  for (const r of REFRESH_INTERVALS) assert.ok(parseDuration(r) > 0);
  assert.ok(isRelative('now-1h') && !isRelative('1700000000000') && !isRelative(5));
});
