// Acknowledgement confirmation page (/ui/ack/<token>): the link notifications carry. Opening it changes
// nothing; submitting the form (who, comment) POSTs the acknowledgement.
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

async function getJson(url, init) {
  const res = await fetch(url, init);
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok || !body || body.status !== 'success') throw new Error((body && body.error) || ('HTTP ' + res.status));
  return body.data;
}

function Labels({ labels }) {
  return <span class="al-labels">{Object.entries(labels || {}).map(([k, v]) => <span class="chip small al-label">{k}="{v}"</span>)}</span>;
}

export function AckPage({ token }) {
  const [group, setGroup] = useState(null);
  const [error, setError] = useState(null);
  const [by, setBy] = useState(() => localStorage.getItem('tsdb.ack.by') || '');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const url = `/api/v1/alerts/groups/${encodeURIComponent(token)}`;
  const load = () => getJson(url).then(setGroup).catch((e) => setError(e.message));
  useEffect(() => { document.title = 'Acknowledge – tsdb'; load(); }, [token]);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      localStorage.setItem('tsdb.ack.by', by);
      await getJson(url + '/ack', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ by, comment }) });
      await load();
    } catch (err) { setError(err.message); } finally { setBusy(false); }
  };
  const esc = group && group.escalation;
  return (
    <div class="page">
      <TopBar title="Acknowledge alerts" />
      <div class="page-body al-page" data-testid="ack-page">
        {error && <div class="panel-error big" role="alert" data-testid="ack-error">{error}</div>}
        {!group && !error && <div class="center"><span class="spinner" /></div>}
        {group && (
          <div>
            <section class="al-card">
              <h2 class="al-h2">Group <Labels labels={group.labels} /></h2>
              <p class="muted small al-break">Receiver {group.receiver} · key {group.groupKey}</p>
              <p data-testid="ack-escalation">{esc ? `Escalation: policy ${esc.policy}, next step ${esc.step} of ${esc.steps} at ${new Date(esc.nextAt).toLocaleString()}` : 'No escalation running.'}</p>
              {group.ack
                ? <p class="al-acked" data-testid="ack-state">Acknowledged by {group.ack.by} at {new Date(group.ack.at).toLocaleString()}{group.ack.comment ? ` — ${group.ack.comment}` : ''}</p>
                : <p class="warn-text" data-testid="ack-state">Not acknowledged.</p>}
            </section>
            <section class="al-card">
              <h3>Alerts ({group.alerts.length})</h3>
              <ul class="al-list">
                {group.alerts.map((a) => (
                  <li data-fingerprint={a.fingerprint}><span class={'al-state al-' + a.state}>{a.state}</span> <Labels labels={a.labels} />
                    {a.annotations && a.annotations.summary && <div class="small">{a.annotations.summary}</div>}
                    <div class="muted small">since {new Date(a.startsAt).toLocaleString()}</div></li>
                ))}
              </ul>
            </section>
            {!group.ack && (
              <form class="al-card al-form" onSubmit={submit} data-testid="ack-form">
                <label>Who <input name="by" required value={by} onInput={(e) => setBy(e.target.value)} data-testid="ack-by" /></label>
                <label>Comment <textarea name="comment" rows="2" value={comment} onInput={(e) => setComment(e.target.value)} data-testid="ack-comment" /></label>
                <button class="btn primary" type="submit" disabled={busy} data-testid="ack-submit">Acknowledge</button>
              </form>
            )}
            {group.history.length > 0 && (
              <section class="al-card"><h3>History</h3>
                <ul class="al-list small" data-testid="ack-history">{group.history.map((h) => <li><span class="muted">{new Date(h.at).toLocaleString()}</span> {h.event}</li>)}</ul>
              </section>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
