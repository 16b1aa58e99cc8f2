// Tests of the app's own logic (node --test): series drill-down expressions, query planning, markdown,
// repeats and rows, variable resolution against a fake API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seriesExpr, isInstant, planPanel, alignedRange } from '../src/data.js';
import { renderMarkdown } from '../src/markdown.js';
import { expandRepeats, toggleRowIn, nextId, findPanel, removePanel } from '../src/layout.js';
import { resolveVariables, interpVars, selectedValues, ALL } from '../src/variables.js';

test('seriesExpr adds matchers to a plain selector', () => {
  assert.equal(seriesExpr('up', { __name__: 'up', instance: 'a:1', job: 'n' }), 'up{instance="a:1", job="n"}');
  assert.equal(seriesExpr('up{job="n"}', { instance: 'x' }), 'up{job="n", instance="x"}');
  assert.equal(seriesExpr('{job="n"}', { instance: 'x"y' }), '{job="n", instance="x\\"y"}');
});

test('seriesExpr filters any other expression with "and on"', () => {
  const e = seriesExpr('sum by (mode) (rate(x[5m]))', { mode: 'idle' });
  assert.equal(e, '(sum by (mode) (rate(x[5m]))) and on(mode) label_replace(vector(1), "mode", "idle", "", "")');
  assert.equal(seriesExpr('sum(x)', {}), 'sum(x)');
});

test('isInstant by panel type and target', () => {
  assert.equal(isInstant({ type: 'timeseries' }, { instant: true }), true);
  assert.equal(isInstant({ type: 'timeseries' }, {}), false);
  assert.equal(isInstant({ type: 'gauge' }, {}), true);
  assert.equal(isInstant({ type: 'stat', options: { graphMode: 'none' } }, {}), true);
  assert.equal(isInstant({ type: 'stat', options: {} }, {}), false);
});

test('planPanel interpolates variables and built-ins, skips hidden targets, honours min interval', () => {
  const vars = { job: { value: ['a', 'b'], multi: true, options: [] } };
  const panel = { type: 'timeseries', targets: [
    { refId: 'A', expr: 'rate(x{job=~"$job"}[$__rate_interval])', interval: '5m' },
    { refId: 'B', expr: 'y', hide: true },
  ] };
  const plans = planPanel(panel, { fromMs: 0, toMs: 3600e3, widthPx: 1000, vars });
  assert.equal(plans.length, 1);
  assert.ok(plans[0].stepMs >= 300e3, 'min interval respected');
  assert.match(plans[0].expr, /^rate\(x\{job=~"\(a\|b\)"\}\[\d+[smh]/);
});

test('markdown is escaped and rendered', () => {
  const html = renderMarkdown('# T\n\nsome **b** <script>x</script> [l](javascript:alert(1)) `c<`\n\n- a\n- b');
  assert.match(html, /<h1>T<\/h1>/);
  assert.match(html, /<strong>b<\/strong>/);
  assert.ok(!html.includes('<script>'));
  assert.match(html, /href="#"/);
  assert.match(html, /<code>c&lt;<\/code>/);
  assert.match(html, /<ul><li>a<\/li><li>b<\/li><\/ul>/);
});

test('repeat panels per selected value, horizontally and vertically', () => {
  const variables = [{ name: 'i', type: 'custom', multi: true, includeAll: true }];
  const state = { i: { value: [ALL], options: [{ text: 'a', value: 'a' }, { text: 'b', value: 'b' }, { text: 'c', value: 'c' }] } };
  const panels = [
    { id: 1, type: 'stat', repeat: 'i', gridPos: { x: 0, y: 0, w: 24, h: 4 }, maxPerRow: 2 },
    { id: 2, type: 'stat', gridPos: { x: 0, y: 4, w: 24, h: 4 } },
  ];
  const items = expandRepeats(panels, variables, state);
  assert.deepEqual(items.map((it) => [it.key, it.x, it.y, it.w]), [['1', 0, 0, 12], ['1-1', 12, 0, 12], ['1-2', 0, 4, 12], ['2', 0, 8, 24]]);
  assert.deepEqual(items[1].varOverride, { i: 'b' });
  const v = expandRepeats([{ ...panels[0], repeatDirection: 'v' }], variables, state);
  assert.deepEqual(v.map((it) => [it.key, it.y]), [['1', 0], ['1-1', 4], ['1-2', 8]]);
});

test('rows collapse and expand; ids and lookups', () => {
  const panels = [
    { id: 1, type: 'row', gridPos: { x: 0, y: 0, w: 24, h: 1 }, collapsed: false, panels: [] },
    { id: 2, type: 'stat', gridPos: { x: 0, y: 1, w: 12, h: 4 } },
    { id: 3, type: 'row', gridPos: { x: 0, y: 5, w: 24, h: 1 }, collapsed: false, panels: [] },
  ];
  const collapsed = toggleRowIn(panels, 1);
  assert.equal(collapsed.length, 2);
  assert.equal(findPanel(collapsed, 2).id, 2);
  assert.equal(collapsed.find((p) => p.id === 3).gridPos.y, 1);
  const expanded = toggleRowIn(collapsed, 1);
  assert.equal(expanded.length, 3);
  assert.equal(nextId(collapsed), 4);
  assert.equal(findPanel(removePanel(collapsed, 2), 2), null);
});

test('variables resolve in order and chained ones follow their parent', async () => {
  const calls = [];
  globalThis.fetch = async (url) => {
    calls.push(String(url));
    const u = new URL(String(url), 'http://x');
    const match = u.searchParams.get('match[]') || '';
    const data = u.pathname.includes('/label/job/') ? ['api', 'node'] : match.includes('"node"') ? ['n1', 'n2'] : ['a1'];
    return new Response(JSON.stringify({ status: 'success', data }), { status: 200 });
  };
  const variables = [
    { name: 'job', type: 'query', query: 'label_values(job)' },
    { name: 'inst', type: 'query', query: 'label_values(up{job="$job"}, instance)', multi: true, includeAll: true },
    { name: 'c', type: 'custom', query: 'x : 1, y : 2' },
  ];
  const range = { fromMs: 0, toMs: 1000 };
  let st = await resolveVariables(variables, {}, { job: 'node' }, range, {}, null);
  assert.equal(st.job.value, 'node');
  assert.deepEqual(st.inst.options.map((o) => o.value), ['n1', 'n2']);
  assert.deepEqual(st.inst.value, [ALL]);
  assert.deepEqual(selectedValues(variables[1], st.inst), ['n1', 'n2']);
  assert.deepEqual(st.c.options, [{ text: 'x', value: '1' }, { text: 'y', value: '2' }]);
  st = await resolveVariables(variables, { ...st, job: { ...st.job, value: 'api' } }, {}, range, {}, ['job']);
  assert.deepEqual(st.inst.options.map((o) => o.value), ['a1']);
  assert.equal(interpVars(variables, st).job.value, 'api');
  assert.equal(calls.length, 3, "job, inst, then inst again after job changed");
});

test('range queries run on a grid of multiples of their step', () => {
  assert.deepEqual(alignedRange(1_000_123, 4_600_123, 60_000), { start: 960_000, end: 4_620_000 });
  assert.deepEqual(alignedRange(960_000, 4_560_000, 60_000), { start: 960_000, end: 4_560_000 });
  assert.deepEqual(alignedRange(1_000_123, 2_000_000, 0), { start: 1_000_123, end: 2_000_000 });
  // a minute later the grid is the same: every earlier point is requested again at the same time
  const a = alignedRange(1_000_123, 4_600_123, 120_000), b = alignedRange(1_060_123, 4_660_123, 120_000);
  assert.equal((b.start - a.start) % 120_000, 0);
  // the newest sample (at the range's end) is never after the last point
  assert.ok(a.end >= 4_600_123);
});
