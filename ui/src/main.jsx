// Entry point: routes /ui/* pages.
import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { useLocation, matchRoute, onLinkClick } from './router.js';
import { ListPage } from './list.jsx';
import { DashboardPage } from './dashboard.jsx';
import { ImportPage } from './importpage.jsx';
import { TopBar } from './shell.jsx';
import { GraphPage } from './pages/graph.jsx';
import { MetricsPage } from './pages/metrics.jsx';
import { TargetsPage, TsdbStatusPage, ConfigPage } from './pages/status.jsx';
import { AckPage } from './pages/ack.jsx';
import { EscalationsPage } from './pages/escalations.jsx';
import { SilencesPage } from './pages/silences.jsx';
import { AlertsPage } from './pages/alerts.jsx';
import { RulesPage } from './pages/rules.jsx';
import { SlosPage, SloPage } from './pages/slos.jsx';
import { NotificationsPage } from './pages/notifications.jsx';
import { OnCallPage } from './pages/oncall.jsx';

function App() {
  const { pathname, search } = useLocation();
  const r = matchRoute(pathname);
  switch (r.page) {
    case 'list': return <ListPage key="list" />;
    case 'dashboard': return <DashboardPage key={'d-' + r.uid} uid={r.uid} search={search} />;
    case 'solo': return <DashboardPage key={'s-' + r.uid} uid={r.uid} search={search} solo />;
    case 'new': return <DashboardPage key="new" isNew search={search} />;
    case 'import': return <ImportPage key="import" />;
    case 'graph': return <GraphPage key="graph" search={search} />;
    case 'metrics': return <MetricsPage key="metrics" />;
    case 'targets': return <TargetsPage key="targets" />;
    case 'tsdb-status': return <TsdbStatusPage key="tsdb-status" />;
    case 'config': return <ConfigPage key="config" />;
    case 'escalations': return <EscalationsPage key="escalations" />;
    case 'silences': return <SilencesPage key="silences" search={search} />;
    case 'alerts': return <AlertsPage key="alerts" />;
    case 'rules': return <RulesPage key="rules" />;
    case 'slos': return <SlosPage key="slos" search={search} />;
    case 'slo': return <SloPage key={'slo-' + r.id} id={r.id} search={search} />;
    case 'notifications': return <NotificationsPage key="notifications" />;
    case 'oncall': return <OnCallPage key="oncall" />;
    case 'ack': return <AckPage key={'ack-' + r.token} token={r.token} />;
    default:
      return (
        <div class="page"><TopBar title="Not found" />
          <div class="page-body"><p>No page at {pathname}. <a href="/ui/">Go to the dashboard list</a>.</p></div></div>
      );
  }
}

document.addEventListener('click', onLinkClick);
render(<App />, document.getElementById('app'));
