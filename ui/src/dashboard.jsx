// Dashboard view (/ui/d/<uid>, /ui/new) and solo panel view (/ui/d-solo/<uid>).
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { dashApi } from './api.js';
import { navigate, setSearch } from './router.js';
import { decodeState, encodeState } from './lib/urlstate.js';
import { parseTime, parseDuration } from './lib/time.js';
import { builtinVars, interpolate } from './lib/vars.js';
import { moveItem, resizeItem, stackForMobile, compact } from './lib/grid.js';
import { resolveVariables, interpVars } from './variables.js';
import { SCRAPE_INTERVAL_MS } from './data.js';
import { Panel } from './panel.jsx';
import { TimePicker, RefreshPicker, VariablesBar } from './controls.jsx';
import { TopBar } from './shell.jsx';
import { ROW_H, gp, layoutOf, applyLayout, expandRepeats, toggleRowIn, nextId, findPanel, replacePanel, removePanel, compactPanels, sortByPos } from './layout.js';
import { ShareModal, SaveModal, SettingsModal, AddPanelMenu, newPanel } from './edit.jsx';
import { PanelEditor } from './paneleditor.jsx';

const GAP = 8;

function emptyDashboard() {
  return { title: 'New dashboard', description: '', tags: [], time: { from: 'now-6h', to: 'now' }, refresh: '', timezone: 'browser',
    graphTooltip: 1, variables: [], links: [], panels: [], schemaVersion: 1 };
}

export function useMedia(q) {
  const [m, setM] = useState(() => window.matchMedia(q).matches);
  useEffect(() => {
    const mq = window.matchMedia(q);
    const h = () => setM(mq.matches);
    mq.addEventListener('change', h);
    return () => mq.removeEventListener('change', h);
  }, [q]);
  return m;
}

function setBodyState(s) {
  if (document.body.dataset.dashboardState !== s) document.body.dataset.dashboardState = s;
}

function isRelative(t) { return /now/.test(String(t)); }

export function DashboardPage({ uid, isNew, solo, search }) {
  const [dash, setDash] = useState(null);
  const [meta, setMeta] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [saved, setSaved] = useState(null); // JSON of the last saved model
  const [editMode, setEditMode] = useState(!!isNew);
  const [varState, setVarState] = useState(null);
  const [tick, setTick] = useState(0);
  const [modal, setModal] = useState(null); // {kind, ...}
  const [drawer, setDrawer] = useState(false);
  const panelStates = useRef(new Map());
  const mobile = useMedia('(max-width: 768px)');

  const us = useMemo(() => decodeState(new URLSearchParams(search)), [search]);

  // ---- load
  const load = useCallback(() => {
    setBodyState('loading');
    if (isNew) { const d = emptyDashboard(); setDash(d); setSaved(null); setMeta({ source: 'api', version: 0 }); return; }
    setDash(null);
    setLoadError(null);
    dashApi.get(uid).then((r) => {
      setDash(r.dashboard);
      setSaved(JSON.stringify(r.dashboard));
      setMeta(r.meta || {});
    }).catch((e) => { setLoadError(e.message); setBodyState('settled'); });
  }, [uid, isNew]);
  useEffect(() => { setVarState(null); load(); }, [load]);
  useEffect(() => { if (dash) document.title = (dash.title || 'Dashboard') + ' – tsdb'; }, [dash && dash.title]);

  // ---- URL state
  const updateUrl = useCallback((patch, opts = {}) => {
    const cur = decodeState(new URLSearchParams(location.search));
    const next = { ...cur, ...patch };
    for (const k of Object.keys(next)) if (next[k] === undefined || next[k] === null) delete next[k];
    setSearch(encodeState(next), opts);
  }, []);

  const from = us.from || (dash && dash.time && dash.time.from) || 'now-6h';
  const to = us.to || (dash && dash.time && dash.time.to) || 'now';
  const refresh = us.refresh !== undefined && us.refresh !== null ? us.refresh : (dash ? dash.refresh || '' : '');
  const live = refresh === 'live';

  const range = useMemo(() => {
    const now = Date.now();
    let fromMs, toMs;
    try { fromMs = parseTime(String(from), now); toMs = parseTime(String(to), now, { roundUp: true }); } catch { /* invalid */ }
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) { toMs = now; fromMs = now - 6 * 3600e3; }
    return { fromMs, toMs };
  }, [from, to, tick]);

  // ---- auto refresh
  useEffect(() => {
    if (!refresh || modal || us.editPanel != null) return undefined;
    const ms = live ? 5000 : (() => { try { return parseDuration(refresh); } catch { return 0; } })();
    if (!ms || ms < 1000) return undefined;
    const t = setInterval(() => { if (!document.hidden) setTick((n) => n + 1); }, ms);
    return () => clearInterval(t);
  }, [refresh, live, modal, us.editPanel]);

  // ---- variables
  const variables = (dash && dash.variables) || [];
  const varsJson = JSON.stringify(variables);
  const builtins = useMemo(() => builtinVars({ fromMs: range.fromMs, toMs: range.toMs, stepMs: 0, intervalMs: 0, scrapeIntervalMs: SCRAPE_INTERVAL_MS }), [range]);
  useEffect(() => {
    if (!dash) return undefined;
    const ac = new AbortController();
    resolveVariables(variables, {}, us.vars || {}, range, builtins, null, ac.signal)
      .then((s) => { if (!ac.signal.aborted) setVarState(s); }).catch(() => {});
    return () => ac.abort();
  }, [dash && dash.uid, varsJson, !!dash]);

  // URL var changes (user selection, back/forward) -> re-resolve dependants
  const urlVarsKey = JSON.stringify(us.vars || {});
  useEffect(() => {
    if (!varState || !dash) return undefined;
    const urlVars = us.vars || {};
    const changed = [];
    const st = { ...varState };
    for (const [name, val] of Object.entries(urlVars)) {
      if (!st[name]) continue;
      if (JSON.stringify(st[name].value) !== JSON.stringify(val)) {
        const v = variables.find((x) => x.name === name);
        st[name] = { ...st[name], value: v && v.multi && !Array.isArray(val) ? [val] : (!v || v.multi ? val : (Array.isArray(val) ? val[0] : val)) };
        changed.push(name);
      }
    }
    if (!changed.length) return undefined;
    const ac = new AbortController();
    resolveVariables(variables, st, urlVars, range, builtins, changed, ac.signal)
      .then((s) => { if (!ac.signal.aborted) setVarState(s); }).catch(() => {});
    return () => ac.abort();
  }, [urlVarsKey]);

  // query variables with refresh 2 follow the time range
  const rangeKey = `${from}|${to}`;
  const firstRange = useRef(true);
  useEffect(() => {
    if (firstRange.current) { firstRange.current = false; return undefined; }
    if (!varState || !dash) return undefined;
    const names = variables.filter((v) => v.type === 'query' && Number(v.refresh) === 2).map((v) => v.name);
    if (!names.length) return undefined;
    const ac = new AbortController();
    resolveVariables(variables, varState, us.vars || {}, range, builtins, [], ac.signal, names)
      .then((s) => { if (!ac.signal.aborted) setVarState(s); }).catch(() => {});
    return () => ac.abort();
  }, [rangeKey]);

  const onVarChange = (name, value) => {
    updateUrl({ vars: { ...(us.vars || {}), [name]: value } });
  };

  // ---- body data-dashboard-state
  const alive = useRef(true);
  const recompute = useCallback(() => {
    if (!alive.current) return; // unmounted: the next page owns the body's state now
    let loading = false;
    for (const s of panelStates.current.values()) if (s === 'loading') loading = true;
    setBodyState(loading ? 'loading' : 'settled');
  }, []);
  const onState = useCallback((key, s) => {
    if (s == null) panelStates.current.delete(key); else panelStates.current.set(key, s);
    queueMicrotask(recompute);
  }, []);
  useEffect(() => {
    if (dash && varState) queueMicrotask(recompute);
    else if (!loadError) setBodyState('loading');
  });
  useEffect(() => () => { alive.current = false; delete document.body.dataset.dashboardState; }, []);

  // ---- grid width
  const gridRef = useRef(null);
  const [gridW, setGridW] = useState(() => Math.max(300, window.innerWidth - 24));
  useEffect(() => {
    const el = gridRef.current;
    if (!el) return undefined;
    const ro = new ResizeObserver((e) => {
      const w = Math.floor(e[0].contentRect.width);
      if (w > 0) setGridW((old) => (Math.abs(old - w) > 2 ? w : old));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [dash && varState ? 1 : 0, us.viewPanel]);

  if (loadError) {
    return (
      <div class="page">
        {!solo && <TopBar title="Dashboard" />}
        <div class="page-body"><div class="panel-error big" role="alert">Could not load dashboard "{uid}": {loadError}</div>
          <a href="/ui/">Back to dashboards</a></div>
      </div>
    );
  }
  if (!dash || !varState) {
    return <div class="page">{!solo && <TopBar title={dash ? dash.title : 'Loading…'} />}<div class="page-body center"><span class="spinner" /></div></div>;
  }

  const vars = interpVars(variables, varState);
  const varsKey = JSON.stringify(Object.fromEntries(Object.entries(varState).map(([k, v]) => [k, v.value])));
  const syncKey = 'tsdb-' + (dash.uid || 'new');
  const graphTooltip = dash.graphTooltip ?? 0;
  const baseCtx = { fromMs: range.fromMs, toMs: range.toMs, tick, live, vars, varsKey, syncKey, graphTooltip, timezone: dash.timezone };
  const readOnly = meta && (meta.source === 'builtin' || meta.source === 'provisioned');
  const dirty = saved !== JSON.stringify(dash);

  const setPanels = (panels) => setDash((d) => ({ ...d, panels }));
  const ctxFor = (item, widthPx) => {
    if (!item.varOverride) return { ...baseCtx, widthPx };
    const st = { ...varState };
    for (const [k, val] of Object.entries(item.varOverride)) st[k] = { ...st[k], value: val };
    return { ...baseCtx, widthPx, vars: interpVars(variables, st), varsKey: varsKey + JSON.stringify(item.varOverride) };
  };

  const onZoom = (a, b) => updateUrl({ from: String(a), to: String(b) });
  const zoomOut = () => {
    const span = range.toMs - range.fromMs;
    const c = (range.fromMs + range.toMs) / 2;
    updateUrl({ from: String(Math.round(c - span)), to: String(Math.round(Math.min(Date.now(), c + span))) });
  };
  const panelActions = (p, item) => ({
    navigate,
    zoom: onZoom,
    view: () => (solo ? navigate(`/ui/d/${encodeURIComponent(dash.uid)}?` + encodeState({ ...us, panelId: undefined, viewPanel: p.id }).toString())
      : updateUrl({ viewPanel: us.viewPanel != null ? undefined : p.id })),
    edit: solo || item.repeatOf ? null : () => { setEditMode(true); updateUrl({ editPanel: p.id, viewPanel: undefined }); },
    share: () => setModal({ kind: 'share', panelId: p.id }),
    duplicate: solo || item.repeatOf ? null : () => {
      const g = gp(p);
      const copy = { ...JSON.parse(JSON.stringify(p)), id: nextId(dash.panels), gridPos: { ...g, y: g.y + g.h } };
      setPanels(compactPanels(moveBelow(dash.panels, copy)));
      setEditMode(true);
    },
    remove: solo || item.repeatOf ? null : () => { setPanels(compactPanels(removePanel(dash.panels, p.id))); setEditMode(true); },
  });

  // ---- solo
  if (solo) {
    const id = us.panelId ?? new URLSearchParams(search).get('panelId');
    const p = findPanel(dash.panels, id);
    if (!p) return <div class="panel-error big" role="alert">Panel {String(id)} not found</div>;
    return (
      <div class="solo-page">
        <Panel panel={p} ctx={{ ...baseCtx, widthPx: window.innerWidth }} onState={onState} actions={panelActions(p, {})} solo />
      </div>
    );
  }

  const kiosk = us.kiosk;
  const editPanelId = us.editPanel;
  const editingPanel = editPanelId != null ? findPanel(dash.panels, editPanelId) : null;

  const timeControls = (
    <>
      <TimePicker from={String(from)} to={String(to)} onChange={(f, t) => updateUrl({ from: f, to: t })} onZoomOut={zoomOut} />
      <RefreshPicker value={refresh} onChange={(r) => updateUrl({ refresh: r || undefined })} onRefresh={() => setTick((n) => n + 1)} />
    </>
  );

  const saveDone = (r, savedDash) => {
    setSaved(JSON.stringify(savedDash));
    setDash(savedDash);
    setMeta((m) => ({ ...m, version: r.version, source: 'api' }));
    setModal(null);
    if (!dash.uid || dash.uid !== r.uid || isNew) navigate(`/ui/d/${encodeURIComponent(r.uid)}`, { replace: true });
  };

  const addPanel = (type) => {
    const id = nextId(dash.panels);
    const p = newPanel(type, id);
    const panels = [{ ...p, gridPos: { ...p.gridPos, y: 0 } }, ...dash.panels.map((x) => ({ ...x, gridPos: { ...gp(x), y: gp(x).y + p.gridPos.h } }))];
    setPanels(compactPanels(panels));
    setModal(null);
    if (type !== 'row' && type !== 'text') updateUrl({ editPanel: id });
  };

  return (
    <div class={'page dashboard-page' + (editMode ? ' edit-mode' : '')}>
      {!kiosk && (
        <TopBar title={dash.title} titleExtra={<>
          {readOnly && <span class="badge" title="Built-in and provisioned dashboards are read-only; save a copy to change one">{meta.source}</span>}
          {dirty && editMode && <span class="badge warn">unsaved</span>}
        </>}>
          {mobile ? (
            <button class="btn" data-testid="mobile-drawer-button" aria-expanded={drawer} onClick={() => setDrawer(!drawer)}>☰ <span class="sr-only">Time and variables</span></button>
          ) : timeControls}
          <button class="btn" data-testid="share-button" onClick={() => setModal({ kind: 'share' })} title="Share">Share</button>
          {editMode ? (
            <>
              <div class="dropdown">
                <button class="btn" data-testid="add-panel" onClick={() => setModal({ kind: 'add' })}>+ Add</button>
                {modal && modal.kind === 'add' && <AddPanelMenu onPick={addPanel} onClose={() => setModal(null)} />}
              </div>
              <button class="btn" data-testid="settings-button" onClick={() => setModal({ kind: 'settings' })}>Settings</button>
              <button class="btn primary" data-testid="save-button" onClick={() => setModal({ kind: 'save' })}>Save</button>
              <button class="btn" data-testid="exit-edit" onClick={() => {
                if (dirty && saved && !confirm('Discard unsaved changes?')) return;
                if (dirty && saved) setDash(JSON.parse(saved));
                setEditMode(false);
              }}>Exit edit</button>
            </>
          ) : (
            <button class="btn" data-testid="edit-button" onClick={() => setEditMode(true)}>Edit</button>
          )}
        </TopBar>
      )}
      {mobile && drawer && !kiosk && (
        <div class="drawer" data-testid="mobile-drawer">
          {timeControls}
          <VariablesBar variables={variables} state={varState} onChange={onVarChange} />
        </div>
      )}
      {(!kiosk || kiosk === 'tv') && !(mobile && !kiosk) && (
        <div class="subbar">
          <VariablesBar variables={variables} state={varState} onChange={onVarChange} />
          {dash.links && dash.links.length > 0 && (
            <div class="dash-links">{dash.links.map((l) => <a class="btn small" href={l.url} target={l.targetBlank ? '_blank' : undefined} rel="noopener noreferrer">{l.title || l.url}</a>)}</div>
          )}
        </div>
      )}
      <div class="page-body grid-page" ref={gridRef}>
        {us.viewPanel != null ? (
          <ViewPanel dash={dash} id={us.viewPanel} ctxFor={ctxFor} gridW={gridW} onState={onState} panelActions={panelActions} />
        ) : (
          <Grid dash={dash} varState={varState} gridW={gridW} mobile={mobile} editMode={editMode}
            setPanels={setPanels} ctxFor={ctxFor} onState={onState} panelActions={panelActions} />
        )}
        {dash.panels.length === 0 && (
          <div class="empty">
            <p>This dashboard has no panels yet.</p>
            <button class="btn primary" onClick={() => { setEditMode(true); setModal({ kind: 'add' }); }}>Add a panel</button>
          </div>
        )}
      </div>
      {editingPanel && (
        <PanelEditor panel={editingPanel} dash={dash} baseCtx={baseCtx} varState={varState}
          onApply={(np) => { setPanels(replacePanel(dash.panels, np.id, np)); }}
          onClose={() => updateUrl({ editPanel: undefined })} />
      )}
      {modal && modal.kind === 'share' && <ShareModal dash={dash} panelId={modal.panelId} us={{ ...us, vars: Object.fromEntries(variables.filter((v) => v.type !== 'constant' && varState[v.name]).map((v) => [v.name, varState[v.name].value])) }} range={range} from={from} to={to} onClose={() => setModal(null)} />}
      {modal && modal.kind === 'save' && <SaveModal dash={dash} meta={meta} readOnly={readOnly} isNew={isNew || !saved} onDone={saveDone} onReload={() => { setModal(null); load(); }} onClose={() => setModal(null)} />}
      {modal && modal.kind === 'settings' && <SettingsModal dash={dash} meta={meta} readOnly={readOnly} range={range} onChange={(d) => setDash(d)}
        onReload={() => { setModal(null); load(); }} onClose={() => setModal(null)} />}
    </div>
  );
}

function moveBelow(panels, copy) {
  const g = copy.gridPos;
  return [...panels.map((p) => { const pg = gp(p); return pg.y >= g.y ? { ...p, gridPos: { ...pg, y: pg.y + g.h } } : p; }), copy];
}

function ViewPanel({ dash, id, ctxFor, gridW, onState, panelActions }) {
  const p = findPanel(dash.panels, id);
  if (!p) return <div class="panel-error big" role="alert">Panel {String(id)} not found</div>;
  const item = { panel: p, key: String(p.id) };
  return (
    <div class="view-panel">
      <Panel panel={p} ctx={ctxFor(item, gridW)} onState={onState} actions={panelActions(p, item)} />
    </div>
  );
}

function RowHeader({ row, onToggle, editMode, onRemove, onRename, vars }) {
  const n = row.collapsed ? (row.panels || []).length : 0;
  return (
    <div class="row-header" data-panel-id={row.id} data-state="rendered" data-panel-type="row">
      <button class="row-toggle" aria-expanded={!row.collapsed} onPointerDown={(e) => e.stopPropagation()} onClick={onToggle}>
        <span class="caret">{row.collapsed ? '▸' : '▾'}</span> {row.title ? interpolate(row.title, vars || {}, {}) : 'Row'}
        {row.collapsed && n > 0 && <span class="muted small"> ({n} panel{n > 1 ? 's' : ''})</span>}
      </button>
      {editMode && <button class="icon-btn" title="Rename row" data-testid="row-rename" onPointerDown={(e) => e.stopPropagation()} onClick={onRename}>✎</button>}
      {editMode && <button class="icon-btn" title="Remove row" onPointerDown={(e) => e.stopPropagation()} onClick={onRemove}>✕</button>}
    </div>
  );
}

function Grid({ dash, varState, gridW, mobile, editMode, setPanels, ctxFor, onState, panelActions }) {
  const [drag, setDrag] = useState(null); // {id, layout}
  const variables = dash.variables || [];
  const colW = gridW / 24;
  let items = expandRepeats(dash.panels, variables, varState);
  if (drag) {
    const byId = new Map(drag.layout.map((l) => [l.id, l]));
    items = items.map((it) => (!it.repeatOf && byId.has(it.panel.id) ? { ...it, ...pick(byId.get(it.panel.id)) } : it));
  }

  const startDrag = (e, p, mode) => {
    if (!editMode || e.button !== 0) return;
    if (e.target.closest('button, a, input, select, textarea')) return;
    e.preventDefault();
    const startX = e.clientX, startY = e.clientY;
    const g0 = gp(p);
    const base = layoutOf(dash.panels);
    let layout = base;
    const el = e.currentTarget;
    el.setPointerCapture(e.pointerId);
    const moveH = (ev) => {
      const dx = Math.round((ev.clientX - startX) / colW);
      const dy = Math.round((ev.clientY - startY) / ROW_H);
      layout = mode === 'move'
        ? moveItem(base, p.id, Math.max(0, Math.min(24 - g0.w, g0.x + dx)), Math.max(0, g0.y + dy))
        : resizeItem(base, p.id, Math.max(2, Math.min(24 - g0.x, g0.w + dx)), Math.max(2, g0.h + dy));
      setDrag({ id: p.id, layout });
    };
    const up = () => {
      el.removeEventListener('pointermove', moveH);
      el.removeEventListener('pointerup', up);
      el.removeEventListener('pointercancel', up);
      setDrag(null);
      if (layout !== base) setPanels(applyLayout(dash.panels, compact(layout)));
    };
    el.addEventListener('pointermove', moveH);
    el.addEventListener('pointerup', up);
    el.addEventListener('pointercancel', up);
  };

  const render = (it, style, widthPx) => {
    const p = it.panel;
    if (p.type === 'row') {
      return (
        <div class="grid-item row-item" style={style} key={'row-' + p.id}>
          <RowHeader row={p} editMode={editMode} vars={ctxFor(it, gridW).vars}
            onRename={() => {
              const t = prompt('Row title', p.title || '');
              if (t !== null) setPanels(dash.panels.map((x) => (x.id === p.id ? { ...x, title: t } : x)));
            }}
            onToggle={() => setPanels(toggleRowIn(dash.panels, p.id))}
            onRemove={() => setPanels(compactPanels(dash.panels.filter((x) => x.id !== p.id)))} />
        </div>
      );
    }
    const headerProps = editMode && !it.repeatOf && !mobile ? { onPointerDown: (e) => startDrag(e, p, 'move') } : null;
    return (
      <div class={'grid-item' + (drag && drag.id === p.id ? ' dragging' : '')} style={style} key={it.key}>
        <Panel panel={p} stateKey={it.key} ctx={ctxFor(it, widthPx)} onState={onState} actions={panelActions(p, it)}
          editMode={editMode && !it.repeatOf} headerProps={headerProps} />
        {editMode && !it.repeatOf && !mobile && (
          <div class="resize-handle" title="Drag to resize" onPointerDown={(e) => startDrag(e, p, 'resize')} />
        )}
      </div>
    );
  };

  if (mobile) {
    const layout = stackForMobile(items.map((it) => ({ id: it.key, x: it.x, y: it.y, w: it.w, h: it.h })));
    const byKey = new Map(items.map((it) => [it.key, it]));
    const ordered = [...layout].sort((a, b) => a.y - b.y || a.x - b.x).map((l) => byKey.get(l.id)).filter(Boolean);
    return (
      <div class="grid mobile">
        {ordered.map((it) => render(it, { height: it.panel.type === 'row' ? 'auto' : Math.max(200, it.h * ROW_H) + 'px' }, gridW))}
      </div>
    );
  }
  const height = items.reduce((m, it) => Math.max(m, (it.y + it.h) * ROW_H), 0);
  return (
    <div class="grid" style={{ height: height + 'px' }}>
      {items.map((it) => render(it, {
        left: (it.x * colW) + 'px', top: (it.y * ROW_H) + 'px',
        width: Math.max(10, it.w * colW - GAP) + 'px', height: Math.max(10, it.h * ROW_H - GAP) + 'px',
      }, Math.max(10, it.w * colW - GAP)))}
    </div>
  );
}

function pick(l) { return { x: l.x, y: l.y, w: l.w, h: l.h }; }
