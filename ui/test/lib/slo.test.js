// The SLO pages' helpers: formatting of ratios, burn rates and durations, the list's filters (the API's
// `search` and `label` semantics) and the chart panels built from an SLO's queries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  percent, objectiveText, burnText, durationText, budgetLevel, parseLabelFilters, filterSlos, labelChoices,
  budgetPanel, burnPanel,
} from '../../src/lib/slo.js';

test('percent, objective and burn rate text', () => {
  assert.equal(percent(1 - 1 / 2400), '99.958%');
  assert.equal(percent(7 / 12, 1), '58.3%');
  assert.equal(percent(1), '100%');
  assert.equal(percent(-0.25, 1), '-25%');
  assert.equal(percent(null), '–');
  assert.equal(objectiveText(99.9), '99.9%');
  assert.equal(burnText(10.000000000000567), '10×');
  assert.equal(burnText(5 / 12), '0.417×');
  assert.equal(burnText(14.4), '14.4×');
  assert.equal(burnText(1.6666), '1.67×');
  assert.equal(burnText(null), '–');
});

test('durations: minutes with a decimal below an hour, then two units', () => {
  assert.equal(durationText(2592), '43.2 min'); // 0.1 % of 30 days
  assert.equal(durationText(1080), '18 min');
  assert.equal(durationText(151200), '1d 18h');
  assert.equal(durationText(21600), '6h');
  assert.equal(durationText(90000 + 61 * 60), '1d 2h');
  assert.equal(durationText(25), '25 s');
  assert.equal(durationText(-1512), '-25.2 min');
  assert.equal(durationText(null), '–');
});

test('budget levels', () => {
  assert.deepEqual([0.9, 0.5, 0.1, 0, -1, null].map(budgetLevel), ['ok', 'low', 'low', 'out', 'out', 'none']);
});

const SLOS = [
  { id: 'shop-requests-strict', service: 'shop', name: 'requests-strict', description: 'Tighter objective', labels: { owner: 'web-team' } },
  { id: 'shop-requests-availability', service: 'shop', name: 'requests-availability', description: 'Checkout requests answered', labels: { owner: 'web-team' } },
  { id: 'search-latency', service: 'search', name: 'latency', description: '', labels: { owner: 'search-team', tier: '1' } },
];

test('filters: every search word, every label; order kept', () => {
  assert.deepEqual(filterSlos(SLOS, 'CHECKOUT shop', {}).map((s) => s.id), ['shop-requests-availability']);
  assert.deepEqual(filterSlos(SLOS, '', { owner: 'web-team' }).map((s) => s.id), ['shop-requests-strict', 'shop-requests-availability']);
  assert.deepEqual(filterSlos(SLOS, 'team', { tier: '1' }).map((s) => s.id), ['search-latency']);
  assert.deepEqual(filterSlos(SLOS, 'nothing', {}), []);
  assert.deepEqual(parseLabelFilters(['owner=web-team', 'bad', 'x=a=b']), { owner: 'web-team', x: 'a=b' });
  assert.deepEqual(labelChoices(SLOS), { owner: ['search-team', 'web-team'], tier: ['1'] });
});

test('chart panels use the queries of the SLO and draw the threshold', () => {
  const slo = { period: { duration: '30d' }, queries: { budget_remaining: 'B', burn_rate: { '5m': 'S', '1h': 'L' } } };
  const budget = budgetPanel(slo);
  assert.equal(budget.targets[0].expr, 'B');
  assert.equal(budget.fieldConfig.unit, 'percentunit');
  const burn = burnPanel(slo, { alert: 'page', short_window: '5m', long_window: '1h', factor: 14.4 });
  assert.deepEqual(burn.targets.map((t) => t.expr), ['L', 'S', 'vector(14.4)']);
  assert.equal(burn.title, 'Page: 1h / 5m burn rate (over 14.4×)');
  assert.equal(burn.id, 'burn-1h');
});
