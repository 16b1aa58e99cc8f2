import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLegend, seriesName } from '../../src/lib/legend.js';

const L = { __name__: 'up', job: 'node', instance: 'a:9100' };

test('seriesName', () => {
  assert.equal(seriesName(L), 'up{instance="a:9100", job="node"}');
  assert.equal(seriesName({ __name__: 'up' }), 'up');
  assert.equal(seriesName({ job: 'x' }), '{job="x"}');
  assert.equal(seriesName({}), '{}');
  assert.equal(seriesName(null), '{}');
  assert.equal(seriesName({ a: 'say "hi"\\' }), '{a="say \\"hi\\"\\\\"}');
});

test('formatLegend', () => {
  assert.equal(formatLegend('{{instance}}', L), 'a:9100');
  assert.equal(formatLegend('{{ instance }} / {{job}}', L), 'a:9100 / node');
  assert.equal(formatLegend('{{missing}}x', L), 'x');
  assert.equal(formatLegend('{{ missing }}-{{job}}', L, { missingAsKey: true }), 'missing-node');
  assert.equal(formatLegend('{{__name__}}', L), 'up');
  assert.equal(formatLegend('{{__series_name}}', L), 'up{instance="a:9100", job="node"}');
  assert.equal(formatLegend('', L), 'up{instance="a:9100", job="node"}');
  assert.equal(formatLegend('__auto', L), 'up{instance="a:9100", job="node"}');
  assert.equal(formatLegend(undefined, { job: 'x' }), '{job="x"}');
  assert.equal(formatLegend('static', L), 'static');
  assert.equal(formatLegend('{{instance}}', {}), '');
  assert.equal(formatLegend('{ {instance} }', L), '{ {instance} }');
});
