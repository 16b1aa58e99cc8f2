// App shell: the top bar shared by all pages.
export function TopBar({ title, titleExtra, children }) {
  return (
    <header class="topbar" data-testid="top-bar">
      <nav class="nav">
        <a class="brand" href="/ui/" title="Dashboards" data-testid="nav-dashboards"><span class="logo">▦</span><span class="brand-text">Dashboards</span></a>
        <a class="navlink" href="/ui/explore" data-testid="nav-explore" title="Explore">Explore</a>
        <a class="navlink" href="/graph" data-testid="nav-query" title="Query explorer">Query</a>
        <a class="navlink" href="/ui/metrics" data-testid="nav-metrics" title="Metrics">Metrics</a>
        <a class="navlink" href="/ui/targets" data-testid="nav-status" title="Status: targets, TSDB, configuration">Status</a>
        <a class="navlink" href="/ui/alerts" data-testid="nav-alerts" title="Alerts">Alerts</a>
        <a class="navlink" href="/ui/rules" data-testid="nav-rules" title="Rules">Rules</a>
        <a class="navlink" href="/ui/silences" data-testid="nav-silences" title="Silences">Silences</a>
        <a class="navlink" href="/ui/notifications" data-testid="nav-notifications" title="Notifications">Notifications</a>
        <a class="navlink" href="/ui/escalations" data-testid="nav-escalations" title="Escalations">Escalations</a>
        <a class="navlink" href="/ui/oncall" data-testid="nav-oncall" title="On call">On call</a>
      </nav>
      <h1 class="title" title={title}>{title}{titleExtra}</h1>
      <div class="actions">{children}</div>
    </header>
  );
}
