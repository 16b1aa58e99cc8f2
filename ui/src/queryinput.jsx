// PromQL input: a plain textarea until the CodeMirror chunk has loaded, then the full editor.
import { useEffect, useRef, useState } from 'preact/hooks';

let loader = null;
export function loadEditor() {
  if (!loader) loader = import('./promql-editor.js');
  return loader;
}

export function QueryInput({ value, onChange, onRun, testid, autoFocus }) {
  const host = useRef(null);
  const ed = useRef(null);
  const cbs = useRef({ onChange, onRun });
  const emitted = useRef([value || '']); // recent values the editor itself produced
  cbs.current = { onChange, onRun };
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let alive = true;
    loadEditor().then((m) => {
      if (!alive || !host.current) return;
      ed.current = m.createEditor(host.current, {
        value: value || '',
        onChange: (v) => { emitted.current = [...emitted.current.slice(-49), v]; if (cbs.current.onChange) cbs.current.onChange(v); },
        onRun: (v) => cbs.current.onRun && cbs.current.onRun(v),
      });
      setReady(true);
      if (autoFocus) ed.current.focus();
    }).catch(() => {});
    return () => { alive = false; if (ed.current) ed.current.destroy(); ed.current = null; };
  }, []);
  // Only push external changes into the editor (never echo back what it emitted: typing stays smooth).
  useEffect(() => {
    if (ed.current && !emitted.current.includes(value || '')) { emitted.current = [value || '']; ed.current.setValue(value || ''); }
  }, [value]);
  return (
    <div class="query-input" data-testid={testid}>
      <div ref={host} class="cm-host" />
      {!ready && (
        <textarea class="query-fallback" value={value} rows={2} spellcheck={false}
          onInput={(e) => onChange && onChange(e.target.value)}
          onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey || e.shiftKey)) { e.preventDefault(); onRun && onRun(e.target.value); } }} />
      )}
    </div>
  );
}
