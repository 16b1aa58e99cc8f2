const NAMED = { green: '#73bf69', 'semi-dark-green': '#56a64b', 'dark-green': '#37872d', red: '#f2495c', 'semi-dark-red': '#e02f44', 'dark-red': '#c4162a',
  orange: '#ff9830', 'dark-orange': '#fa6400', yellow: '#fade2a', 'dark-yellow': '#e0b400', blue: '#5794f2', 'dark-blue': '#1f60c4', purple: '#b877d9', 'dark-purple': '#8f3bb8', text: '#8e8e8e', transparent: 'transparent' };
export function namedColor(n) { return NAMED[n] || n; }
const P = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300', '#447EBC', '#C15C17'];
export function palette(i) { return P[i % P.length]; }
export function colorForValue(v, th, min, max) {
  const steps = (th && th.steps) || [];
  let c = steps.length ? steps[0].color : 'green';
  for (const s of steps) {
    if (s.value == null) continue;
    const t = th.mode === 'percentage' ? min + (max - min) * s.value / 100 : s.value;
    if (v >= t) c = s.color;
  }
  return namedColor(c);
}
