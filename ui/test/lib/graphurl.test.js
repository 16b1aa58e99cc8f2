// The query explorer's /graph URL parameters (Prometheus's g0.* format).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGraphParams, encodeGraphParams, parseMoment, formatMoment, graphStepMs, graphUrl, emptyPanel } from '../../src/lib/graphurl.js';

test('a Prometheus graph link reads as one graph panel', () => {
  const [p, ...rest] = parseGraphParams('g0.expr=rate(x%5B5m%5D)&g0.tab=0&g0.stacked=1&g0.range_input=1h&g0.end_input=2024-01-02%2003%3A04%3A05&g0.step_input=30');
  assert.equal(rest.length, 0);
  assert.equal(p.expr, 'rate(x[5m])');
  assert.equal(p.tab, 'graph');
  assert.equal(p.range, '1h');
  assert.equal(p.stacked, true);
  assert.equal(p.end, '2024-01-02 03:04:05');
  assert.equal(p.resType, 'custom');
  assert.equal(p.resStep, '30');
});

test('tabs by number and by name; table is the default; several panels in index order', () => {
  const ps = parseGraphParams('g1.expr=b&g1.tab=explain&g0.expr=a&g0.tab=1&g2.expr=c');
  assert.deepEqual(ps.map((p) => [p.expr, p.tab]), [['a', 'table'], ['b', 'explain'], ['c', 'table']]);
  assert.equal(parseGraphParams('g0.tab=graph')[0].tab, 'graph');
  assert.equal(parseGraphParams('g0.tab=2')[0].tab, 'explain');
});

test('no panel gives one empty panel; Prometheus 3 resolution and display mode are read', () => {
  assert.deepEqual(parseGraphParams(''), [emptyPanel()]);
  const [p] = parseGraphParams('g0.expr=up&g0.res_type=fixed&g0.res_step=60&g0.res_density=high&g0.display_mode=stacked&g0.range_input=90m');
  assert.equal(p.resType, 'fixed');
  assert.equal(p.resStep, '60');
  assert.equal(p.resDensity, 'high');
  assert.equal(p.stacked, true);
  assert.equal(p.range, '1h30m');
});

test('encode then parse gives the same panels', () => {
  const panels = [
    { ...emptyPanel(), expr: 'up{job="a b"}', tab: 'graph', range: '6h', end: '2024-01-02 03:04:05', stacked: true, yZero: true, resType: 'custom', resStep: '15' },
    { ...emptyPanel(), expr: 'sum(x)', tab: 'explain', moment: '2024-01-02 00:00:00', resType: 'fixed', resStep: '60', resDensity: 'low' },
  ];
  const p = encodeGraphParams(panels);
  assert.equal(p.get('g0.tab'), '0');
  assert.equal(p.get('g0.step_input'), '15');
  assert.equal(p.get('g1.tab'), '2');
  assert.deepEqual(parseGraphParams(p.toString()), panels);
  assert.match(graphUrl('up'), /^\/graph\?g0\.expr=up&g0\.tab=0&/);
});

test('moments: Prometheus UI format (UTC), RFC 3339 and Unix seconds', () => {
  assert.equal(parseMoment('2024-01-02 03:04:05'), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(parseMoment('2024-01-02T03:04:05+01:00'), Date.UTC(2024, 0, 2, 2, 4, 5));
  assert.equal(parseMoment('1700000000.5'), 1700000000500);
  assert.ok(Number.isNaN(parseMoment('')) && Number.isNaN(parseMoment('soon')));
  assert.equal(formatMoment(Date.UTC(2024, 0, 2, 3, 4, 5)), '2024-01-02 03:04:05');
});

test('graph steps: auto by width and density, custom as given, never over 11,000 points', () => {
  const auto = { ...emptyPanel(), resType: 'auto' };
  assert.equal(graphStepMs(auto, 3600e3, 1000), 4000);
  assert.equal(graphStepMs({ ...auto, resDensity: 'low' }, 3600e3, 1000), 7000);
  assert.equal(graphStepMs({ ...auto, resType: 'custom', resStep: '15' }, 3600e3, 1000), 15000);
  assert.equal(graphStepMs({ ...auto, resType: 'custom', resStep: '1' }, 30 * 86400e3, 1000), 236000);
});
