import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeColumns, joinColumns, matrixToColumns, mergeTail, reduce, stack, heatmapBuckets, toCSV, parseSampleValue, REDUCERS } from '../../src/lib/series.js';

const arr = (a) => Array.from(a);
const same = (got, want) => assert.deepEqual(arr(got).map((x) => (Number.isNaN(x) ? 'NaN' : x)), want.map((x) => (Number.isNaN(x) ? 'NaN' : x)));

test('parseSampleValue', () => {
  assert.equal(parseSampleValue('1.5'), 1.5);
  assert.ok(Number.isNaN(parseSampleValue('NaN')));
  assert.equal(parseSampleValue('+Inf'), Infinity);
  assert.equal(parseSampleValue('-Inf'), -Infinity);
  assert.equal(parseSampleValue('1e3'), 1000);
  assert.ok(Number.isNaN(parseSampleValue('')));
});

test('matrixToColumns aligns on the union of timestamps', () => {
  const result = [
    { metric: { __name__: 'up', job: 'a' }, values: [[10, '1'], [20, '2'], [30, 'NaN']] },
    { metric: { job: 'b' }, values: [[15, '+Inf'], [30, '-Inf'], [40, '4']] },
    { metric: {}, values: [] },
  ];
  const c = matrixToColumns(result);
  assert.ok(c.times instanceof Float64Array);
  same(c.times, [10, 15, 20, 30, 40]);
  assert.ok(c.series[0].values instanceof Float64Array);
  same(c.series[0].values, [1, NaN, 2, NaN, NaN]);
  same(c.series[1].values, [NaN, Infinity, NaN, -Infinity, 4]);
  same(c.series[2].values, [NaN, NaN, NaN, NaN, NaN]);
  assert.deepEqual(c.series[0].labels, { __name__: 'up', job: 'a' });
  // instant vector and empty input
  const v = matrixToColumns([{ metric: { a: '1' }, value: [100.5, '7'] }]);
  same(v.times, [100.5]);
  same(v.series[0].values, [7]);
  assert.deepEqual(matrixToColumns([]), { times: new Float64Array(0), series: [] });
  assert.deepEqual(matrixToColumns(null), { times: new Float64Array(0), series: [] });
  // unordered points still land right
  const u = matrixToColumns([{ metric: {}, values: [[3, '3'], [1, '1']] }, { metric: {}, values: [[2, '2']] }]);
  same(u.series[0].values, [1, NaN, 3]);
});

test('matrixToColumns: 1000 series x 1000 points quickly, random gaps preserved', () => {
  let s = 3;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const result = [];
  for (let i = 0; i < 1000; i++) {
    const values = [];
    for (let t = 0; t < 1000; t++) if (rnd() < 0.98) values.push([1700000000 + t * 15, String(i + t)]);
    result.push({ metric: { i: String(i) }, values });
  }
  const t0 = performance.now();
  const c = matrixToColumns(result);
  const ms = performance.now() - t0;
  assert.equal(c.times.length, 1000);
  for (let i = 0; i < 1000; i += 97) {
    const have = new Map(result[i].values.map(([t, v]) => [t, Number(v)]));
    for (let k = 0; k < c.times.length; k++) {
      const want = have.has(c.times[k]) ? have.get(c.times[k]) : NaN;
      assert.ok(Object.is(c.series[i].values[k], want));
    }
  }
  assert.ok(ms < 1500, `took ${ms} ms`);
});

test('mergeTail', () => {
  const a = { times: Float64Array.from([10, 20, 30, 40]), series: [
    { labels: { j: 'a' }, values: Float64Array.from([1, 2, 3, 4]) },
    { labels: { j: 'gone' }, values: Float64Array.from([1, NaN, NaN, NaN]) },
    { labels: { j: 'old' }, values: Float64Array.from([NaN, 5, 5, 5]) },
  ] };
  const tail = { times: Float64Array.from([30, 40, 50]), series: [
    { labels: { j: 'a' }, values: Float64Array.from([30, 40, 50]) },
    { labels: { j: 'new' }, values: Float64Array.from([NaN, 7, 8]) },
  ] };
  const m = mergeTail(a, tail, 15);
  same(m.times, [20, 30, 40, 50]);
  assert.deepEqual(m.series.map((s) => s.labels.j), ['a', 'old', 'new']);
  same(m.series[0].values, [2, 30, 40, 50]);
  same(m.series[1].values, [5, NaN, NaN, NaN]);
  same(m.series[2].values, [NaN, NaN, 7, 8]);
  same(a.series[0].values, [1, 2, 3, 4]); // inputs untouched
  // empty tail keeps everything in the window
  same(mergeTail(a, { times: new Float64Array(0), series: [] }, 25).times, [30, 40]);
  // from nothing
  same(mergeTail(null, tail, 0).series[0].values, [30, 40, 50]);
});

test('reduce (Grafana reducers, NaN = missing)', () => {
  const v = [NaN, 1, 5, NaN, 2, 8, NaN];
  const want = { lastNotNull: 8, last: NaN, firstNotNull: 1, first: NaN, mean: 4, max: 8, min: 1, sum: 16, count: 4, range: 7, diff: 7, delta: 12 };
  for (const [how, w] of Object.entries(want)) assert.ok(Object.is(reduce(v, how), w), `${how}: ${reduce(v, how)}`);
  assert.equal(reduce(Float64Array.from([1, 2, 3]), 'mean'), 2);
  // counter reset: 10 -> 20 -> 5 -> 8  => 10 + 5 + 3
  assert.equal(reduce([10, 20, 5, 8], 'delta'), 18);
  for (const how of REDUCERS) {
    const r = reduce([], how);
    if (how === 'sum' || how === 'count') assert.equal(r, 0);
    else assert.ok(Number.isNaN(r), how);
    reduce([NaN, NaN], how);
  }
  assert.equal(reduce([1, Infinity], 'max'), Infinity);
  assert.throws(() => reduce([1], 'median'), /median/);
});

test('stack', () => {
  const a = [1, 2, NaN, 4];
  const b = [10, NaN, 30, 40];
  const c = [100, 200, 300, 0];
  const n = stack([a, b, c], 'normal');
  same(n[0], [1, 2, NaN, 4]);
  same(n[1], [11, NaN, 30, 44]);
  same(n[2], [111, 202, 330, 44]);
  const p = stack([a, b, c], 'percent');
  same(p[2], [1, 1, 1, 1]);
  assert.ok(Math.abs(p[0][0] - 1 / 111) < 1e-12);
  same(p[1], [11 / 111, NaN, 30 / 330, 1]);
  same(stack([[0, NaN], [0, 1]], 'percent')[1], [0, 1]);
  same(stack([a], 'none')[0], a);
  assert.notEqual(stack([a], 'none')[0], a);
  assert.deepEqual(stack([], 'normal'), []);
});

test('heatmapBuckets sums across other labels and de-cumulates', () => {
  const cols = { times: Float64Array.from([1, 2]), series: [
    { labels: { le: '+Inf', instance: 'a' }, values: Float64Array.from([10, 20]) },
    { labels: { le: '0.5', instance: 'a' }, values: Float64Array.from([6, 12]) },
    { labels: { le: '0.1', instance: 'a' }, values: Float64Array.from([2, 4]) },
    { labels: { le: '0.1', instance: 'b' }, values: Float64Array.from([1, 1]) },
    { labels: { le: '0.5', instance: 'b' }, values: Float64Array.from([3, 3]) },
    { labels: { le: '+Inf', instance: 'b' }, values: Float64Array.from([3, 5]) },
    { labels: { instance: 'c' }, values: Float64Array.from([99, 99]) },
  ] };
  const h = heatmapBuckets(cols);
  same(h.times, [1, 2]);
  same(h.bounds, [0.1, 0.5, Infinity]);
  same(h.counts[0], [3, 5]);
  same(h.counts[1], [6, 10]);
  same(h.counts[2], [4, 10]);
  const h2 = heatmapBuckets(cols.series, cols.times);
  same(h2.counts[2], [4, 10]);
  assert.deepEqual(heatmapBuckets({ times: new Float64Array(0), series: [] }).counts, []);
});

test('toCSV (RFC 4180, RFC 3339 times)', () => {
  const cols = { times: Float64Array.from([1704164645, 1704164645.5]), series: [
    { labels: { __name__: 'up', job: 'a,"b"' }, values: Float64Array.from([1, NaN]) },
    { labels: { x: '1' }, values: Float64Array.from([Infinity, 0.25]) },
  ] };
  assert.equal(toCSV(cols),
    'time,"up{job=""a,\\""b\\""""}","{x=""1""}"\r\n' +
    '2024-01-02T03:04:05Z,1,+Inf\r\n' +
    '2024-01-02T03:04:05.500Z,,0.25\r\n');
  assert.equal(toCSV(cols, ['A', 'line\nbreak']).split('\r\n')[0], 'time,A,"line\nbreak"');
  assert.equal(toCSV({ times: [], series: [] }), 'time\r\n');
});

test('decodeColumns reads base64 float64 values and marks absent points NaN', () => {
  const values = new Float64Array([1.5, 0.1 + 0.2, Infinity, 7]);
  const b64 = Buffer.from(values.buffer).toString('base64');
  const c = decodeColumns({ times: [10, 20, 30, 40], result: [{ metric: { a: '1' }, values: b64, absent: [3] }] });
  same(c.times, [10, 20, 30, 40]);
  assert.deepEqual(c.series[0].labels, { a: '1' });
  same(c.series[0].values, [1.5, 0.30000000000000004, Infinity, NaN]);
  assert.throws(() => decodeColumns({ times: [1], result: [{ metric: {}, values: b64 }] }), /4 values for 1 times/);
  assert.deepEqual(decodeColumns(null), { times: new Float64Array(0), series: [] });
});

test('joinColumns puts sets with different axes on their union', () => {
  const a = { times: new Float64Array([10, 20, 30]), series: [{ labels: { s: 'a' }, values: new Float64Array([1, 2, 3]) }] };
  const b = { times: new Float64Array([20, 40]), series: [{ labels: { s: 'b' }, values: new Float64Array([5, 6]) }] };
  const j = joinColumns([a, b]);
  same(j.times, [10, 20, 30, 40]);
  same(j.series[0].values, [1, 2, 3, NaN]);
  same(j.series[1].values, [NaN, 5, NaN, 6]);
  assert.equal(joinColumns([a, a]).series[1].values, a.series[0].values);
  assert.deepEqual(joinColumns([]), { times: new Float64Array(0), series: [] });
});
