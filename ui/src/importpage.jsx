// Import page (/ui/import): paste or upload Grafana JSON.
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from './shell.jsx';
import { dashApi } from './api.js';

export function ImportPage() {
  const [text, setText] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { document.title = 'Import – tsdb'; }, []);
  const onFile = (e) => {
    const f = e.target.files && e.target.files[0];
    if (!f) return;
    f.text().then(setText);
  };
  const submit = (e) => {
    e.preventDefault();
    setError(null); setResult(null);
    let json;
    try { json = JSON.parse(text); } catch (err) { setError('Not valid JSON: ' + err.message); return; }
    setBusy(true);
    dashApi.import(json, overwrite).then(setResult).catch((err) => setError(err.message)).finally(() => setBusy(false));
  };
  return (
    <div class="page">
      <TopBar title="Import dashboard" />
      <div class="page-body import-page">
        <form onSubmit={submit}>
          <p>Paste a Grafana dashboard JSON (classic model) or upload a file. Panels that cannot be converted become placeholders.</p>
          <label class="file-label">Upload JSON file <input type="file" accept=".json,application/json" onChange={onFile} data-testid="import-file" /></label>
          <textarea class="json-text" rows={18} value={text} onInput={(e) => setText(e.target.value)} placeholder='{"title": "…", "panels": […]}' data-testid="import-json" spellcheck={false} />
          <label class="check"><input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Overwrite a dashboard with the same uid</label>
          <div><button class="btn primary" type="submit" disabled={busy || !text.trim()} data-testid="import-submit">Import</button></div>
        </form>
        {error && <div class="panel-error big" role="alert" data-testid="import-error">{error}</div>}
        {result && (
          <div class="import-result" data-testid="import-result">
            <p>Imported. <a href={result.url || `/ui/d/${encodeURIComponent(result.uid)}`} data-testid="import-link">Open the dashboard</a></p>
            {result.warnings && result.warnings.length > 0 && (
              <div class="warnings"><h3>Warnings</h3><ul>{result.warnings.map((w) => <li>{typeof w === 'string' ? w : JSON.stringify(w)}</li>)}</ul></div>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
