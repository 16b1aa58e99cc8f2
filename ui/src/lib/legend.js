// Series names and legend templates (a target's `legendFormat`).

function quote(v) {
  return '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/**
 * A series' name in Prometheus notation: `name{a="b", c="d"}` with the labels other than `__name__` sorted by
 * name and values quoted as PromQL strings; `name` alone when it has no other labels; `{a="b"}` without a name;
 * `{}` for no labels at all.
 * @param {Object<string, string>} labels
 * @returns {string}
 */
export function seriesName(labels) {
  const l = labels || {};
  const name = l.__name__ || '';
  const keys = Object.keys(l).filter((k) => k !== '__name__').sort();
  if (!keys.length) return name || '{}';
  return `${name}{${keys.map((k) => `${k}=${quote(l[k])}`).join(', ')}}`;
}

/**
 * Renders a legend template: `{{label}}` and `{{ label }}` become the label's value (a missing label becomes
 * empty, or with `missingAsKey` its name, as current Grafana renders it), `{{__name__}}` the metric name,
 * `{{__series_name}}` the whole seriesName(labels). An empty template, `__auto` (or null/undefined) gives
 * seriesName(labels).
 * @param {string|null|undefined} template
 * @param {Object<string, string>} labels
 * @param {{missingAsKey?: boolean}} [opts]
 * @returns {string}
 */
export function formatLegend(template, labels, { missingAsKey = false } = {}) {
  const l = labels || {};
  if (template === null || template === undefined || template.trim() === '' || template.trim() === '__auto') {
    return seriesName(l);
  }
  return template.replace(/\{\{\s*(.+?)\s*\}\}/g, (_, key) => {
    if (key === '__series_name') return seriesName(l);
    const v = l[key];
    if (v === undefined || v === null || v === '') return missingAsKey ? key : '';
    return String(v);
  });
}
