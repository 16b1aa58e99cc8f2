import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeState, decodeState } from '../../src/lib/urlstate.js';

test('encodeState: stable order and forms', () => {
  const p = encodeState({
    kiosk: 'tv', viewPanel: 4, vars: { instance: ['a:1', 'b&c'], job: 'node', all: '$__all' },
    refresh: '30s', to: 'now', from: 'now-6h',
  });
  assert.equal(p.toString(),
    'from=now-6h&to=now&refresh=30s&var-instance=a%3A1&var-instance=b%26c&var-job=node&var-all=%24__all&viewPanel=4&kiosk=tv');
  assert.equal(encodeState({ kiosk: true, refresh: '', editPanel: null }).toString(), 'kiosk=');
  assert.equal(encodeState({}).toString(), '');
  assert.equal(encodeState({ vars: { x: [] } }).toString(), 'var-x=');
  assert.equal(encodeState({ from: 1700000000000, to: 1700003600000, panelId: 2 }).toString(),
    'from=1700000000000&to=1700003600000&panelId=2');
});

test('decodeState', () => {
  const s = decodeState('from=now-6h&to=now&var-a=1&var-a=2&var-b=x&viewPanel=3&kiosk&refresh=live&other=1');
  assert.deepEqual(s, { from: 'now-6h', to: 'now', refresh: 'live', vars: { a: ['1', '2'], b: 'x' }, viewPanel: 3, kiosk: true });
  assert.deepEqual(decodeState(new URLSearchParams('kiosk=tv&editPanel=x')), { vars: {}, editPanel: 'x', kiosk: 'tv' });
  assert.deepEqual(decodeState(''), { vars: {} });
  assert.deepEqual(decodeState('var-=1&var-x=&var-x=y'), { vars: { x: ['', 'y'] } });
});

// small seeded generator (no dependencies)
function rng(start) {
  let s = start >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('round trip on random states', () => {
  const r = rng(42);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const chars = 'abcXYZ09 _-.:/&=?#%+,;"\'\\{}[]|$é中😀';
  const str = (min = 0) => {
    const n = min + Math.floor(r() * 8);
    let s = '';
    for (let i = 0; i < n; i++) s += pick([...chars]);
    return s;
  };
  for (let i = 0; i < 500; i++) {
    const state = { vars: {} };
    if (r() < 0.8) state.from = pick(['now-6h', 'now/d', '1700000000000', '2024-01-01T00:00:00Z', str(1)]);
    if (r() < 0.8) state.to = pick(['now', 'now/d', '1700003600000', str(1)]);
    if (r() < 0.5) state.refresh = pick(['5s', '1m', 'live', str(1)]);
    const nv = Math.floor(r() * 4);
    for (let j = 0; j < nv; j++) {
      const name = pick(['job', 'instance', 'a_b', 'x1', str(1).replace(/[&=#%+ ]/g, 'q')]);
      const k = Math.floor(r() * 4);
      state.vars[name] = k === 0 ? str() : k === 1 ? '$__all' : Array.from({ length: 2 + Math.floor(r() * 3) }, () => str());
    }
    if (r() < 0.3) state.viewPanel = Math.floor(r() * 100);
    if (r() < 0.3) state.editPanel = Math.floor(r() * 100);
    if (r() < 0.3) state.panelId = Math.floor(r() * 100);
    if (r() < 0.3) state.kiosk = pick([true, 'tv']);
    const encoded = encodeState(state);
    const back = decodeState(new URLSearchParams(encoded.toString()));
    assert.deepEqual(back, state);
    assert.equal(encodeState(back).toString(), encoded.toString());
  }
});
