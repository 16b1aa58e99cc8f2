// App shell: the top bar shared by all pages. Wide screens show every section's link; below 1200 px a menu
// button opens them as a list (the page title and its actions keep the bar).
import { useEffect, useRef, useState } from 'preact/hooks';

const SECTIONS = [
  ['/graph', 'explore', 'Explore', 'Query explorer'],
  ['/ui/metrics', 'metrics', 'Metrics', 'Metrics'],
  ['/ui/targets', 'status', 'Status', 'Status: targets, TSDB, configuration'],
  ['/ui/alerts', 'alerts', 'Alerts', 'Alerts'],
  ['/ui/slos', 'slos', 'SLOs', 'SLOs: error budgets and burn rates'],
  ['/ui/rules', 'rules', 'Rules', 'Rules'],
  ['/ui/silences', 'silences', 'Silences', 'Silences'],
  ['/ui/notifications', 'notifications', 'Notifications', 'Notifications'],
  ['/ui/escalations', 'escalations', 'Escalations', 'Escalations'],
  ['/ui/oncall', 'oncall', 'On call', 'On call'],
];

function NavMenu() {
  const [open, setOpen] = useState(false);
  const ref = useRef(null);
  useEffect(() => {
    if (!open) return undefined;
    const close = (e) => { if (e.type === 'keydown' ? e.key === 'Escape' : !ref.current?.contains(e.target)) setOpen(false); };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => { document.removeEventListener('mousedown', close); document.removeEventListener('keydown', close); };
  }, [open]);
  return (
    <div class="nav-menu" ref={ref}>
      <button type="button" class="btn nav-menu-button" aria-label="Sections" aria-expanded={open ? 'true' : 'false'}
        data-testid="nav-menu-button" onClick={() => setOpen(!open)}>☰</button>
      {open && (
        <div class="nav-menu-list" role="menu" data-testid="nav-menu">
          <a role="menuitem" href="/ui/">Dashboards</a>
          {SECTIONS.map(([href, id, label]) => <a role="menuitem" href={href} data-testid={'nav-menu-' + id}>{label}</a>)}
        </div>
      )}
    </div>
  );
}

export function TopBar({ title, titleExtra, children }) {
  return (
    <header class="topbar" data-testid="top-bar">
      <nav class="nav">
        <NavMenu />
        <a class="brand" href="/ui/" title="Dashboards" data-testid="nav-dashboards"><span class="logo">▦</span><span class="brand-text">Dashboards</span></a>
        {SECTIONS.map(([href, id, label, hint]) => (
          <a class="navlink" href={href} data-testid={'nav-' + id} title={hint}>{label}</a>
        ))}
      </nav>
      <h1 class="title" title={title}>{title}{titleExtra}</h1>
      <div class="actions">{children}</div>
    </header>
  );
}
