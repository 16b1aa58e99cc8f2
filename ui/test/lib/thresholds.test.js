import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colorForValue, namedColor, palette, gradient, activeStep, parseColor, withAlpha, NAMED_COLORS } from '../../src/lib/thresholds.js';

test('namedColor (Grafana named colours)', () => {
  assert.equal(namedColor('green'), '#73BF69');
  assert.equal(namedColor('red'), '#F2495C');
  assert.equal(namedColor('orange'), '#FF9830');
  assert.equal(namedColor('yellow'), '#FADE2A');
  assert.equal(namedColor('blue'), '#5794F2');
  assert.equal(namedColor('purple'), '#B877D9');
  assert.equal(namedColor('dark-red'), '#C4162A');
  assert.equal(namedColor('semi-dark-green'), '#56A64B');
  assert.equal(namedColor('light-blue'), '#8AB8FF');
  assert.equal(namedColor('super-light-yellow'), '#FFF899');
  assert.equal(namedColor('transparent'), 'transparent');
  assert.equal(namedColor('text'), 'rgb(204, 204, 220)');
  assert.equal(namedColor('#123abc'), '#123abc');
  assert.equal(namedColor('rgb(1, 2, 3)'), 'rgb(1, 2, 3)');
  assert.equal(namedColor('rebeccapurple'), 'rebeccapurple');
  assert.equal(NAMED_COLORS.length, 30);
  for (const hue of ['red', 'orange', 'yellow', 'green', 'blue', 'purple']) {
    for (const v of ['super-light-', 'light-', '', 'semi-dark-', 'dark-']) assert.match(namedColor(v + hue), /^#[0-9A-F]{6}$/);
  }
});

test('palette: classic order, wraps', () => {
  assert.equal(palette(0), '#7EB26D');
  assert.equal(palette(1), '#EAB839');
  assert.equal(palette(2), '#6ED0E0');
  assert.equal(palette(4), '#E24D42');
  assert.equal(palette(56), '#7EB26D');
  assert.equal(palette(-1), '#DEDAF7');
});

test('colorForValue: absolute and percentage thresholds', () => {
  const abs = { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 80, color: 'red' }, { value: 50, color: 'orange' }] };
  assert.equal(colorForValue(10, abs), '#73BF69');
  assert.equal(colorForValue(50, abs), '#FF9830');
  assert.equal(colorForValue(79.9, abs), '#FF9830');
  assert.equal(colorForValue(80, abs), '#F2495C');
  assert.equal(colorForValue(-Infinity, abs), '#73BF69');
  assert.equal(colorForValue(Infinity, abs), '#F2495C');
  assert.equal(colorForValue(NaN, abs), '#73BF69');
  const pct = { mode: 'percentage', steps: [{ value: null, color: 'green' }, { value: 75, color: '#ff0000' }] };
  assert.equal(colorForValue(0.7, pct, 0, 1), '#73BF69');
  assert.equal(colorForValue(0.8, pct, 0, 1), '#ff0000');
  assert.equal(colorForValue(80, pct), '#ff0000'); // default 0..100
  assert.equal(colorForValue(175, pct, 100, 200), '#ff0000');
  assert.equal(colorForValue(5, pct, 5, 5), '#73BF69');
  assert.equal(colorForValue(5, { steps: [] }), '#73BF69');
  assert.equal(colorForValue(5, undefined), '#73BF69');
  assert.equal(activeStep(90, abs).value, 80);
  assert.equal(activeStep(1, { steps: [] }), null);
});

test('parseColor, withAlpha, gradient', () => {
  assert.deepEqual(parseColor('#fff'), { r: 255, g: 255, b: 255, a: 1 });
  assert.deepEqual(parseColor('green'), { r: 0x73, g: 0xbf, b: 0x69, a: 1 });
  assert.deepEqual(parseColor('rgba(1, 2, 3, 0.5)'), { r: 1, g: 2, b: 3, a: 0.5 });
  assert.equal(parseColor('nonsense'), null);
  assert.equal(withAlpha('#000000', 0.1), 'rgba(0, 0, 0, 0.1)');
  assert.equal(withAlpha('red', 2), 'rgba(242, 73, 92, 1)');
  assert.equal(withAlpha('bogus', 0.5), 'bogus');
  assert.equal(gradient(0, 0, 100), 'rgb(115, 191, 105)');
  assert.equal(gradient(100, 0, 100), 'rgb(242, 73, 92)');
  assert.equal(gradient(50, 0, 100), 'rgb(250, 222, 42)');
  assert.equal(gradient(1000, 0, 100), gradient(100, 0, 100));
  assert.equal(gradient(NaN, 0, 100), gradient(0, 0, 100));
  assert.equal(gradient(5, 5, 5), gradient(0, 0, 100));
  assert.equal(gradient(0.5, 0, 1, ['#000000', '#ffffff']), 'rgb(128, 128, 128)');
  assert.equal(gradient(0.5, 0, 1, ['#102030']), 'rgb(16, 32, 48)');
});
