// Minimal history-based router for /ui/* pages.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();
function notify() { for (const l of listeners) l(); }
window.addEventListener('popstate', notify);

export function navigate(url, { replace = false } = {}) {
  const cur = location.pathname + location.search;
  if (url === cur) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

// Replace only the query string of the current page.
export function setSearch(params, { replace = false } = {}) {
  const s = params.toString();
  navigate(location.pathname + (s ? '?' + s : ''), { replace });
}

export function useLocation() {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return { pathname: location.pathname, search: location.search };
}

export function matchRoute(pathname) {
  const p = pathname.replace(/\/+$/, '');
  let m;
  if (p === '/ui' || p === '' || p === '/') return { page: 'list' };
  if ((m = p.match(/^\/ui\/d\/([^/]+)/))) return { page: 'dashboard', uid: decodeURIComponent(m[1]) };
  if ((m = p.match(/^\/ui\/d-solo\/([^/]+)/))) return { page: 'solo', uid: decodeURIComponent(m[1]) };
  if (p === '/ui/new') return { page: 'new' };
  if (p === '/ui/import') return { page: 'import' };
  if (p === '/graph') return { page: 'graph' };
  if (p === '/ui/metrics') return { page: 'metrics' };
  if (p === '/ui/targets') return { page: 'targets' };
  if (p === '/ui/tsdb-status') return { page: 'tsdb-status' };
  if (p === '/ui/config') return { page: 'config' };
  if ((m = p.match(/^\/ui\/ack\/([^/]+)/))) return { page: 'ack', token: decodeURIComponent(m[1]) };
  if (p === '/ui/escalations') return { page: 'escalations' };
  if (p === '/ui/silences') return { page: 'silences' };
  if (p === '/ui/alerts') return { page: 'alerts' };
  if (p === '/ui/rules') return { page: 'rules' };
  if (p === '/ui/slos') return { page: 'slos' };
  if ((m = p.match(/^\/ui\/slos\/([^/]+)$/))) return { page: 'slo', id: decodeURIComponent(m[1]) };
  if (p === '/ui/notifications') return { page: 'notifications' };
  if (p === '/ui/oncall') return { page: 'oncall' };
  return { page: 'notfound' };
}

// Intercept same-origin /ui/ link clicks for client-side navigation.
export function onLinkClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || a.target === '_blank' || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
}
