// The PromQL editor (CodeMirror 6 + codemirror-promql). Loaded on demand: the dashboard view does not
// need it, so it lives in its own chunk.
import { EditorView, keymap, placeholder as placeholderExt, hoverTooltip, drawSelection, highlightActiveLine } from '@codemirror/view';
import { EditorState, Prec } from '@codemirror/state';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching } from '@codemirror/language';
import { lintKeymap } from '@codemirror/lint';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';
import { functionIdentifierTerms, aggregateOpTerms } from '@prometheus-io/codemirror-promql/dist/esm/complete/promql.terms.js';

let shared = null;
function promqlExtension() {
  if (!shared) {
    shared = new PromQLExtension().setComplete({
      remote: { url: window.location.origin, httpMethod: 'POST', lookbackInterval: 12 * 3600 * 1000, cache: { maxAge: 60 * 1000 } },
      maxMetricsMetadata: 10000,
    });
    // Dashboard variables ($job, ${x:regex}, [[x]]) are not PromQL: do not flag expressions that use them.
    const base = shared.getLinter();
    shared.setLinter({
      promQL() {
        const lint = base.promQL.call(base);
        return (view) => {
          const text = view.state.doc.toString();
          return /\$|\[\[/.test(text) ? [] : lint(view);
        };
      },
    });
  }
  return shared.asExtension();
}

const docs = new Map([...functionIdentifierTerms, ...aggregateOpTerms].map((t) => [t.label, t.info || t.detail || '']));

const hoverHelp = hoverTooltip((view, pos) => {
  const { from, to, text } = view.state.doc.lineAt(pos);
  let s = pos, e = pos;
  while (s > from && /\w/.test(text[s - from - 1])) s--;
  while (e < to && /\w/.test(text[e - from])) e++;
  if (s === e) return null;
  const word = text.slice(s - from, e - from);
  const info = docs.get(word);
  if (!info) return null;
  return {
    pos: s, end: e, above: true,
    create() {
      const dom = document.createElement('div');
      dom.className = 'cm-hover-help';
      const b = document.createElement('b');
      b.textContent = word;
      dom.append(b, document.createTextNode(': ' + info));
      return { dom };
    },
  };
});

const theme = EditorView.theme({
  '&': { fontSize: '13px', border: '1px solid var(--border)', borderRadius: '4px', background: 'var(--input-bg)' },
  '&.cm-focused': { outline: '2px solid var(--accent)', outlineOffset: '-1px' },
  '.cm-content': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', padding: '6px 0' },
  '.cm-scroller': { maxHeight: '240px', overflow: 'auto' },
  '.cm-tooltip': { zIndex: 1000 },
});

export function createEditor(parent, { value = '', onChange, onRun, placeholder = 'Enter a PromQL expression' } = {}) {
  let external = false;
  const runKeys = Prec.highest(keymap.of([
    { key: 'Mod-Enter', run: (v) => { if (onRun) onRun(v.state.doc.toString()); return true; } },
    { key: 'Shift-Enter', run: (v) => { if (onRun) onRun(v.state.doc.toString()); return true; } },
  ]));
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: value,
      extensions: [
        runKeys,
        history(),
        drawSelection(),
        highlightActiveLine(),
        bracketMatching(),
        closeBrackets(),
        autocompletion({ activateOnTyping: true }),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
        placeholderExt(placeholder),
        EditorView.lineWrapping,
        promqlExtension(),
        hoverHelp,
        theme,
        EditorView.updateListener.of((u) => { if (u.docChanged && onChange && !external) onChange(u.state.doc.toString()); }),
      ],
    }),
  });
  return {
    view,
    setValue(v) {
      const cur = view.state.doc.toString();
      if (cur === v) return;
      external = true;
      try { view.dispatch({ changes: { from: 0, to: cur.length, insert: v } }); } finally { external = false; }
    },
    focus() { view.focus(); },
    destroy() { view.destroy(); },
  };
}
