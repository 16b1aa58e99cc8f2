import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  interpolate, builtinVars, parseVariableQuery, variableQueryRequest, variableValuesFromResponse, applyRegex,
  sortOptions, customOptions, intervalOptions, dependsOn, resolveOrder, prometheusRegularEscape,
  prometheusSpecialRegexEscape, regexEscape, referencedNames, roundInterval, ALL_VALUE,
} from '../../src/lib/vars.js';

const BS = '\\';

test('escapes as Grafana Prometheus datasource tests state (prometheusRegularEscape / SpecialRegexEscape)', () => {
  assert.equal(prometheusRegularEscape("looking'glass"), `looking${BS}${BS}'glass`);
  assert.equal(prometheusRegularEscape(`looking${BS}glass`), `looking${BS}${BS}glass`);
  assert.equal(prometheusRegularEscape('looking*glass'), 'looking*glass');
  assert.equal(prometheusSpecialRegexEscape(`looking${BS}glass`), `looking${BS.repeat(4)}glass`);
  for (const c of '$^*{}[]+?.()|') {
    assert.equal(prometheusSpecialRegexEscape(`looking${c}glass`), `looking${BS}${BS}${c}glass`, c);
  }
  assert.equal(prometheusSpecialRegexEscape("looking'glass"), "looking'glass");
  assert.equal(regexEscape('a.b/c'), `a${BS}.b${BS}/c`);
});

test('interpolate: syntaxes and Prometheus default format', () => {
  const vars = {
    job: { value: 'node' },
    instance: { value: ['a:9100', 'b.x:9100'], multi: true },
    one: { value: ['only.one'], multi: true },
    instance_name: { value: 'web1' },
    q: { value: "it's" },
  };
  const cases = [
    ['up{job="$job"}', 'up{job="node"}'],
    ['up{job="${job}"}', 'up{job="node"}'],
    ['up{job="[[job]]"}', 'up{job="node"}'],
    ['up{instance=~"$instance"}', `up{instance=~"(a:9100|b${BS}${BS}.x:9100)"}`],
    ['up{instance=~"$one"}', `up{instance=~"only${BS}${BS}.one"}`],
    ['$instance_name/$instance', `web1/(a:9100|b${BS}${BS}.x:9100)`],
    ['$unknown and ${nope} and [[nada]]', '$unknown and ${nope} and [[nada]]'],
    ['x{a="$q"}', `x{a="it${BS}${BS}'s"}`],
    ['${instance:raw}', 'a:9100,b.x:9100'],
    ['${instance:regex}', `(a:9100|b${BS}.x:9100)`],
    ['${instance:pipe}', 'a:9100|b.x:9100'],
    ['${instance:csv}', 'a:9100,b.x:9100'],
    ['${instance:glob}', '{a:9100,b.x:9100}'],
    ['${instance:queryparam}', 'var-instance=a%3A9100&var-instance=b.x%3A9100'],
    ['${job:queryparam}', 'var-job=node'],
    ['${job:regex}', 'node'],
    ['[[instance:pipe]]', 'a:9100|b.x:9100'],
    ['$$job', '$node'],
    ['no vars', 'no vars'],
    ['', ''],
  ];
  for (const [text, want] of cases) assert.equal(interpolate(text, vars), want, text);
});

test('interpolate: template_srv-style cases (Grafana template_srv tests)', () => {
  assert.equal(interpolate('this.[[test]].filters', { test: { value: 'oogle' } }), 'this.oogle.filters');
  assert.equal(interpolate('this.${test}.filters', { test: { value: 'oogle' } }), 'this.oogle.filters');
  const multi = { test: { value: ['value1', 'value2'], multi: true } };
  assert.equal(interpolate('this.${test:glob}.filters', multi), 'this.{value1,value2}.filters');
  assert.equal(interpolate('this.${test:pipe}.filters', multi), 'this.value1|value2.filters');
  assert.equal(interpolate('this.${test:regex}.filters', multi), 'this.(value1|value2).filters');
  assert.equal(interpolate('this.${test:csv}.filters', multi), 'this.value1,value2.filters');
  const allCustom = { test: { value: ALL_VALUE, includeAll: true, allValue: '*', options: [{ text: 'All', value: ALL_VALUE }, { text: 'a', value: 'a' }] } };
  assert.equal(interpolate('this.$test.filters', allCustom), 'this.*.filters');
  assert.equal(interpolate('this.${test:text}.filters', allCustom), 'this.All.filters');
});

test('interpolate: All', () => {
  const options = [{ text: 'All', value: ALL_VALUE }, { text: 'a', value: 'a' }, { text: 'b.c', value: 'b.c' }];
  const noAllValue = { v: { value: [ALL_VALUE], multi: true, includeAll: true, options } };
  assert.equal(interpolate('x=~"$v"', noAllValue), `x=~"(a|b${BS}${BS}.c)"`);
  assert.equal(interpolate('${v:csv}', noAllValue), 'a,b.c');
  const withAllValue = { v: { value: ALL_VALUE, includeAll: true, allValue: '.*', options } };
  assert.equal(interpolate('x=~"$v"', withAllValue), 'x=~".*"');
  assert.equal(interpolate('x=~"${v:regex}"', withAllValue), 'x=~".*"');
  const nested = { job: { value: 'n' }, v: { value: ALL_VALUE, includeAll: true, allValue: '$job.*', options } };
  assert.equal(interpolate('$v', nested), 'n.*');
  const selfRef = { v: { value: ALL_VALUE, includeAll: true, allValue: '$v', options } };
  assert.equal(interpolate('$v', selfRef), '$v');
  const onlyAll = { v: { value: ALL_VALUE, includeAll: true, options: [{ text: 'All', value: ALL_VALUE }, { text: 'x', value: 'x' }] } };
  assert.equal(interpolate('$v', onlyAll), 'x');
});

test('interpolate: text format, plain values, builtins', () => {
  const vars = {
    host: { value: ['h1', 'h2'], multi: true, options: [{ text: 'Host one', value: 'h1' }, { text: 'Host two', value: 'h2' }] },
    plain: 'p',
    arr: ['x', 'y'],
    num: { value: 5 },
    cur: { current: { value: 'c' } },
  };
  assert.equal(interpolate('${host:text}', vars), 'Host one + Host two');
  assert.equal(interpolate('$plain $num $cur', vars), 'p 5 c');
  assert.equal(interpolate('$arr', vars), 'x,y');
  const b = builtinVars({ fromMs: 0, toMs: 3600e3, stepMs: 15e3 });
  assert.equal(interpolate('rate(x[$__rate_interval]) $__interval ${__interval_ms} [[__range]]', vars, b),
    'rate(x[1m]) 15s 15000 3600s');
  assert.equal(interpolate('$__interval', {}, { __interval: { value: '2m' } }), '2m');
});

test('builtinVars', () => {
  const b = builtinVars({ fromMs: 1000, toMs: 1000 + 86400e3, stepMs: 60e3, intervalMs: 90e3 });
  assert.deepEqual(b, {
    __interval: '1m30s', __interval_ms: '90000', __rate_interval: '1m45s', __range: '86400s', __range_s: '86400',
    __range_ms: '86400000', __from: '1000', __to: '86401000',
  });
  assert.equal(builtinVars({ fromMs: 0, toMs: 1, stepMs: 15e3 }).__rate_interval, '1m'); // 4 x 15s
  assert.equal(builtinVars({ fromMs: 0, toMs: 1, stepMs: 5 * 60e3 }).__rate_interval, '5m15s');
  assert.equal(builtinVars({ fromMs: 0, toMs: 1, stepMs: 10e3, scrapeIntervalMs: 30e3 }).__rate_interval, '2m');
});

test('parseVariableQuery', () => {
  const cases = [
    ['label_values(instance)', { kind: 'label_values', label: 'instance' }],
    ['label_values(up{job="node"}, instance)', { kind: 'label_values', metric: 'up{job="node"}', label: 'instance' }],
    [' label_values( up{job="a,b"} ,  instance ) ', { kind: 'label_values', metric: 'up{job="a,b"}', label: 'instance' }],
    ['label_values(node_uname_info, nodename)', { kind: 'label_values', metric: 'node_uname_info', label: 'nodename' }],
    ['label_names()', { kind: 'label_names' }],
    ['label_names( up )', { kind: 'label_names', metric: 'up' }],
    ['metrics(node_.*)', { kind: 'metrics', regex: 'node_.*' }],
    ['metrics()', { kind: 'metrics', regex: '' }],
    ['query_result(topk(5, sum by (job) (up)))', { kind: 'query_result', expr: 'topk(5, sum by (job) (up))' }],
    [{ query: 'label_values(job)', qryType: 1, refId: 'PrometheusVariableQueryEditor-VariableQuery' }, { kind: 'label_values', label: 'job' }],
  ];
  for (const [q, want] of cases) assert.deepEqual(parseVariableQuery(q), want, JSON.stringify(q));
  for (const bad of ['', 'up', 'label_values()', 'label_values(up, 1bad)', 'query_result()', 'foo(bar)', null]) {
    assert.throws(() => parseVariableQuery(bad), (e) => e.message.includes(`"${bad ?? ''}"`), String(bad));
  }
});

test('variableQueryRequest', () => {
  const r = { fromMs: 1700000000500, toMs: 1700003600500 };
  assert.deepEqual(variableQueryRequest(parseVariableQuery('label_values(up{job="n"}, instance)'), r), {
    path: '/api/v1/label/instance/values',
    params: { 'match[]': ['up{job="n"}'], start: '1700000000', end: '1700003601' },
    url: '/api/v1/label/instance/values?match%5B%5D=up%7Bjob%3D%22n%22%7D&start=1700000000&end=1700003601',
  });
  assert.deepEqual(variableQueryRequest({ kind: 'label_values', label: 'job' }, r).params, { start: '1700000000', end: '1700003601' });
  assert.equal(variableQueryRequest({ kind: 'label_names' }, r).path, '/api/v1/labels');
  assert.deepEqual(variableQueryRequest({ kind: 'label_names', metric: 'up' }, r).params['match[]'], ['up']);
  assert.equal(variableQueryRequest({ kind: 'metrics', regex: 'x' }, r).path, '/api/v1/label/__name__/values');
  assert.deepEqual(variableQueryRequest({ kind: 'query_result', expr: 'up' }, r), {
    path: '/api/v1/query', params: { query: 'up', time: '1700003601' }, url: '/api/v1/query?query=up&time=1700003601',
  });
});

test('variableValuesFromResponse', () => {
  assert.deepEqual(variableValuesFromResponse({ kind: 'label_values' }, { status: 'success', data: ['a', 'b'] }), ['a', 'b']);
  assert.deepEqual(variableValuesFromResponse({ kind: 'label_names' }, ['__name__', 'job']), ['__name__', 'job']);
  assert.deepEqual(variableValuesFromResponse({ kind: 'metrics', regex: 'node_' }, { data: ['node_a', 'go_x', 'x_node_b'] }), ['node_a', 'x_node_b']);
  assert.deepEqual(variableValuesFromResponse({ kind: 'metrics', regex: '' }, { data: ['a'] }), ['a']);
  const vec = { status: 'success', data: { resultType: 'vector', result: [
    { metric: { __name__: 'up', job: 'node', instance: 'a:1' }, value: [1700000000.5, '1'] },
    { metric: { job: 'x' }, value: [1700000000, 'NaN'] },
  ] } };
  assert.deepEqual(variableValuesFromResponse({ kind: 'query_result' }, vec),
    ['up{job="node",instance="a:1"} 1 1700000000500', '{job="x"} NaN 1700000000000']);
  assert.deepEqual(variableValuesFromResponse({ kind: 'query_result' }, { data: { resultType: 'scalar', result: [1, '42'] } }), ['42']);
  assert.throws(() => variableValuesFromResponse({ kind: 'label_values' }, { status: 'error', error: 'boom' }), /boom/);
  assert.deepEqual(variableValuesFromResponse({ kind: 'label_values' }, null), []);
});

test('applyRegex (Grafana semantics)', () => {
  const vals = ['web-1.prod', 'web-2.prod', 'db-1.prod', 'web-1.dev'];
  assert.deepEqual(applyRegex(vals, ''), vals.map((v) => ({ text: v, value: v })));
  assert.deepEqual(applyRegex(vals, '/web-(\\d)/'), [{ text: '1', value: '1' }, { text: '2', value: '2' }]);
  assert.deepEqual(applyRegex(vals, '/^web/'), [{ text: 'web-1.prod', value: 'web-1.prod' }, { text: 'web-2.prod', value: 'web-2.prod' }, { text: 'web-1.dev', value: 'web-1.dev' }]);
  assert.deepEqual(applyRegex(vals, 'web-.*'), applyRegex(vals, '/^web/'));
  assert.deepEqual(applyRegex(vals, '/WEB-1/i').map((o) => o.value), ['web-1.prod', 'web-1.dev']);
  assert.deepEqual(applyRegex(vals, '/(?<text>[a-z]+)-(?<value>\\d)\\.prod/'),
    [{ text: 'web', value: '1' }, { text: 'web', value: '2' }]);
  assert.deepEqual(applyRegex(vals, '/(?<value>[a-z]+)-\\d\\.prod/'), [{ text: 'web', value: 'web' }, { text: 'db', value: 'db' }]);
  assert.deepEqual(applyRegex(['a', 'a', 'b'], ''), [{ text: 'a', value: 'a' }, { text: 'b', value: 'b' }]);
  assert.deepEqual(applyRegex([{ text: 'T', value: 'v1' }], '/v(\\d)/'), [{ text: '1', value: '1' }]);
  assert.deepEqual(applyRegex(vals, '/prod/g').length, 3);
  assert.throws(() => applyRegex(vals, '/(/'), /"\/\(\/"/);
  assert.deepEqual(applyRegex([], '/x/'), []);
});

test('sortOptions modes 0..8', () => {
  const o = (...t) => t.map((x) => ({ text: x, value: x }));
  const opts = o('b10', 'a2', 'B1', 'c', 'a10');
  const texts = (m) => sortOptions(opts, m).map((x) => x.text);
  assert.deepEqual(texts(0), ['b10', 'a2', 'B1', 'c', 'a10']);
  assert.deepEqual(texts(1), ['B1', 'a10', 'a2', 'b10', 'c']);
  assert.deepEqual(texts(2), ['c', 'b10', 'a2', 'a10', 'B1']);
  assert.deepEqual(texts(3), ['c', 'B1', 'a2', 'b10', 'a10']);
  assert.deepEqual(texts(4), ['a10', 'b10', 'a2', 'B1', 'c']);
  assert.deepEqual(texts(5), ['a10', 'a2', 'B1', 'b10', 'c']);
  assert.deepEqual(texts(6), ['c', 'b10', 'B1', 'a2', 'a10']);
  assert.deepEqual(texts(7), ['a2', 'a10', 'B1', 'b10', 'c']);
  assert.deepEqual(texts(8), ['c', 'b10', 'B1', 'a10', 'a2']);
  assert.notEqual(sortOptions(opts, 0), opts);
  assert.deepEqual(sortOptions([], 3), []);
});

test('customOptions', () => {
  assert.deepEqual(customOptions('a,b , c'), [{ text: 'a', value: 'a' }, { text: 'b', value: 'b' }, { text: 'c', value: 'c' }]);
  assert.deepEqual(customOptions('Prod : prod-1, Dev : dev-1'), [{ text: 'Prod', value: 'prod-1' }, { text: 'Dev', value: 'dev-1' }]);
  assert.deepEqual(customOptions('a\\,b,c'), [{ text: 'a,b', value: 'a,b' }, { text: 'c', value: 'c' }]);
  assert.deepEqual(customOptions('http://x:80'), [{ text: 'http://x:80', value: 'http://x:80' }]);
  assert.deepEqual(customOptions(''), []);
  assert.deepEqual(customOptions('a,,b'), [{ text: 'a', value: 'a' }, { text: 'b', value: 'b' }]);
});

test('intervalOptions and roundInterval', () => {
  assert.deepEqual(intervalOptions('1m, 10m,1h'), [{ text: '1m', value: '1m' }, { text: '10m', value: '10m' }, { text: '1h', value: '1h' }]);
  const day = intervalOptions('1m', { auto: true, fromMs: 0, toMs: 86400e3 });
  assert.deepEqual(day[0], { text: 'auto', value: '1h', auto: true }); // 2880 s -> 1h
  assert.equal(intervalOptions('1m', { auto: true, fromMs: 0, toMs: 3600e3 })[0].value, '2m'); // 120 s
  assert.equal(intervalOptions('', { auto: true, fromMs: 0, toMs: 60e3 })[0].value, '10s'); // auto_min
  assert.equal(intervalOptions('', { auto: true, auto_min: '5m', fromMs: 0, toMs: 3600e3 })[0].value, '5m');
  assert.equal(intervalOptions('', { auto: true, auto_count: 10, fromMs: 0, toMs: 3600e3 })[0].value, '5m');
  assert.equal(roundInterval(9), 1);
  assert.equal(roundInterval(12000), 10000);
  assert.equal(roundInterval(14000), 15000);
  assert.equal(roundInterval(100000), 120000);
  assert.equal(roundInterval(1e12), 31536000000);
});

test('dependsOn and resolveOrder', () => {
  const vars = [
    { name: 'instance', query: 'label_values(up{job="$job", env="${env}"}, instance)' },
    { name: 'job', query: { query: 'label_values(up{env="[[env]]"}, job)' } },
    { name: 'env', query: 'label_values(env)' },
    { name: 'port', query: 'label_values(up{instance="$instance"}, port)', regex: '/$suffix/' },
    { name: 'suffix', type: 'custom', query: 'a,b' },
    { name: 'self', query: 'label_values(up{a="$self"}, x)' },
  ];
  assert.deepEqual(dependsOn(vars[0], vars), ['job', 'env']);
  assert.deepEqual(dependsOn(vars[3], vars), ['instance', 'suffix']);
  assert.deepEqual(dependsOn(vars[5], vars), []);
  const order = resolveOrder(vars);
  assert.deepEqual(order, ['env', 'job', 'instance', 'suffix', 'port', 'self']);
  const cyc = [{ name: 'a', query: '$b' }, { name: 'b', query: '$c' }, { name: 'c', query: '$a' }, { name: 'd', query: 'x' }];
  assert.throws(() => resolveOrder(cyc), (e) => /a -> b -> c -> a/.test(e.message));
  assert.deepEqual(resolveOrder([]), []);
  assert.deepEqual(referencedNames('$a ${b:csv} [[c]] $a'), ['a', 'b', 'c']);
});

test('resolveOrder: random acyclic graphs give a valid order', () => {
  let s = 11;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let round = 0; round < 100; round++) {
    const n = 1 + Math.floor(rnd() * 10);
    const names = Array.from({ length: n }, (_, i) => `v${i}`);
    // edges only to lower indices -> acyclic; then shuffle the list
    const vars = names.map((name, i) => ({
      name, query: names.slice(0, i).filter(() => rnd() < 0.3).map((d) => `$${d}`).join(' '),
    }));
    for (let i = vars.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [vars[i], vars[j]] = [vars[j], vars[i]];
    }
    const order = resolveOrder(vars);
    assert.equal(order.length, n);
    for (const v of vars) for (const d of dependsOn(v, vars)) assert.ok(order.indexOf(d) < order.indexOf(v.name));
  }
});

test('applyRegex: global regex with several matches gives one option per match', () => {
  assert.deepEqual(applyRegex(['a=1;b=2', 'c=3'], '/\\w=(\\d)/g'),
    [{ text: '1', value: '1' }, { text: '2', value: '2' }, { text: '3', value: '3' }]);
  assert.deepEqual(applyRegex(['x'], '/(y)?x/'), []);
});
