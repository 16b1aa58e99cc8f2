"""Go templates for notifications: Alertmanager 0.25's data model and functions, the default templates,
``templates:`` files (relative paths, parse errors), the Jinja2 opt-in, and every receiver's text with
Go templates (defaults and configured). The byte-for-byte comparison with a real Alertmanager is
tests/contracts/test_alertmanager_payloads.py."""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

import pytest

from tsdb.alerting.gotmpl import fields as fields_module
from tsdb.alerting.gotmpl.data import KV, template_data
from tsdb.alerting.gotmpl.fields import FieldRenderer, FieldTemplateError
from tsdb.alerting.gotmpl.gotime import GoTime
from tsdb.alerting.gotmpl.render import NotificationTemplateError, NotificationTemplates, default_templates
from tsdb.alerting.model import Alert, Notification, fingerprint
from tsdb.alerting.receivers import build_receivers
from tsdb.alerting.receivers.channels import SmsIntegration
from tsdb.alerting.receivers.email import EmailIntegration
from tsdb.alerting.receivers.integration import DeliveryError
from tsdb.alerting.receivers.pagerduty import PagerDutyIntegration
from tsdb.alerting.receivers.slack import SlackIntegration
from tsdb.errors import ConfigError

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
URL = "http://am.example.com"


def _notification(receiver: str = "team-x", resolved: int = 0, extras: dict[str, Any] | None = None) -> Notification:
    alerts = [Alert({"alertname": "DiskFull", "instance": f"db{i}", "severity": "critical", "job": "node"},
                    {"summary": "disk full", "description": f"disk {i}"}, NOW - 90.5, None, f"http://p/graph?i={i}")
              for i in range(2)]
    alerts += [Alert({"alertname": "DiskFull", "instance": f"old{i}", "severity": "critical", "job": "node"},
                     {"summary": "disk full"}, NOW - 600, NOW - 5, "http://p/graph") for i in range(resolved)]
    return Notification(receiver, '{}:{alertname="DiskFull"}', {"alertname": "DiskFull"}, alerts, "firing", NOW, URL,
                        extras=extras or {})


def _text(template: str, notification: Notification | None = None) -> str:
    return default_templates().text(template, template_data(notification or _notification()))


# -- data model -----------------------------------------------------------------------------------------

def test_data_model_matches_alertmanager() -> None:
    data = template_data(_notification("team.x (db)", resolved=1))
    assert data.Receiver == r"team\.x \(db\)"  # Alertmanager quotes the receiver name as a regexp
    assert data.Status == "firing" and len(data.Alerts) == 3
    assert [a.Status for a in data.Alerts.Firing()] == ["firing", "firing"]
    assert [a.Labels["instance"] for a in data.Alerts.Resolved()] == ["old0"]
    assert data.CommonLabels == {"alertname": "DiskFull", "severity": "critical", "job": "node"}
    assert data.CommonAnnotations == {"summary": "disk full"}
    assert data.Alerts[0].EndsAt.IsZero() and not data.Alerts[2].EndsAt.IsZero()
    assert data.Alerts[0].Fingerprint == fingerprint(data.Alerts[0].Labels)
    assert data.GroupKey == '{}:{alertname="DiskFull"}'


def test_kv_methods() -> None:
    kv = KV({"zone": "a", "alertname": "X", "instance": "i"})
    assert kv.Names() == ["alertname", "instance", "zone"]  # alertname first, then sorted
    assert kv.Values() == ["X", "i", "a"]
    assert [(p.Name, p.Value) for p in kv.SortedPairs()] == [("alertname", "X"), ("instance", "i"), ("zone", "a")]
    assert kv.Remove(["zone", "nope"]) == {"alertname": "X", "instance": "i"}
    assert kv["missing"] == ""


def test_prometheus_fingerprint() -> None:
    assert fingerprint({}) == "cbf29ce484222325"  # FNV-1a 64 offset basis: the empty label set
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert len(fingerprint({"alertname": "X"})) == 16


def test_times_print_as_go() -> None:
    t = GoTime.from_seconds(NOW - 90.5)
    assert str(t) == "2027-01-15 07:58:29.5 +0000 UTC"
    assert str(GoTime.from_seconds(NOW)) == "2027-01-15 08:00:00 +0000 UTC"
    assert str(GoTime(None)) == "0001-01-01 00:00:00 +0000 UTC"
    assert t.Format("2006-01-02T15:04:05Z07:00") == "2027-01-15T07:58:29Z"
    assert t.Format("Mon Jan _2 3:04PM .000 MST") == "Fri Jan 15 7:58AM .500 UTC"
    assert _text('{{ (index .Alerts 0).StartsAt }} | {{ (index .Alerts 0).StartsAt.Format "15:04" }}') == \
        "2027-01-15 07:58:29.5 +0000 UTC | 07:58"
    assert _text("{{ (index .Alerts 0).EndsAt }}") == "0001-01-01 00:00:00 +0000 UTC"


# -- functions --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("template", "expected"), [
    ('{{ "disk full" | toUpper }}', "DISK FULL"),
    ('{{ "DISK Full" | toLower }}', "disk full"),
    ('{{ "hELLO wORLD" | title }}', "Hello World"),
    ('{{ .CommonLabels.Names | join "," }}', "alertname,job,severity"),
    ('{{ join "+" (stringSlice "a" "b") }}', "a+b"),
    ('{{ if match "^Disk" .CommonLabels.alertname }}yes{{ end }}', "yes"),
    ('{{ reReplaceAll "db([0-9])" "disk-$1" "db0 db1" }}', "disk-0 disk-1"),
    ('{{ reReplaceAll "(?P<n>[a-z]+)" "${n}!" "ab" }}', "ab!"),
    ("{{ .Receiver | urlquery }}", "team-x"),
    ('{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}', "alertname=DiskFull;job=node;"
                                                                                "severity=critical;"),
    ('{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values }}{{ end }}', "[node critical]"),
    ("{{ .CommonLabels.nope }}|{{ len .Alerts.Firing }}", "|2"),
])
def test_functions(template: str, expected: str) -> None:
    assert _text(template) == expected


def test_unknown_functions_fail_to_parse() -> None:
    with pytest.raises(NotificationTemplateError):
        _text('{{ humanizeDurations 3600 }}')


# -- default templates ------------------------------------------------------------------------------------

def test_default_subject_and_alert_list() -> None:
    n = _notification(resolved=1)
    assert _text('{{ template "__subject" . }}', n) == "[FIRING:2] DiskFull (node critical)"
    n.group_labels = {"alertname": "DiskFull", "job": "node", "severity": "critical"}
    assert _text('{{ template "__subject" . }}', n) == "[FIRING:2] DiskFull node critical "
    assert _text('{{ template "slack.default.titlelink" . }}', n) == f"{URL}/#/alerts?receiver=team-x"
    listing = _text('{{ template "__text_alert_list" .Alerts.Resolved }}', n)
    assert listing == ("Labels:\n - alertname = DiskFull\n - instance = old0\n - job = node\n - severity = critical\n"
                       "Annotations:\n - summary = disk full\nSource: http://p/graph\n")


def test_default_multi_section_messages() -> None:
    n = _notification(resolved=1)
    opsgenie = _text('{{ template "opsgenie.default.description" . }}', n)
    assert opsgenie.startswith("disk full\nAlerts Firing:\nLabels:\n - alertname = DiskFull\n")
    assert "\nAlerts Resolved:\nLabels:\n" in opsgenie and not opsgenie.endswith("\n\n")
    telegram = _text('{{ template "telegram.default.message" . }}', n)
    assert telegram.startswith("\n\nAlerts Firing:\n") and telegram.endswith("Source: http://p/graph\n\n\n")
    wechat = _text('{{ template "wechat.default.message" . }}', n)
    assert wechat.endswith(f"\nAlertmanagerUrl:\n{URL}/#/alerts?receiver=team-x")
    for name in ("pushover.default.message", "sns.default.message", "webex.default.message",
                 "discord.default.message", "victorops.default.state_message", "email.default.subject"):
        assert default_templates().has(name)


# -- templates: files -------------------------------------------------------------------------------------

def test_template_files_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "tmpl").mkdir()
    (tmp_path / "tmpl" / "a.tmpl").write_text('{{ define "mine" }}{{ .Status | toUpper }}!{{ end }}')
    (tmp_path / "tmpl" / "b.txt").write_text("{{ broken")  # not matched by the glob
    templates = NotificationTemplates.load(["tmpl/*.tmpl", "nothing/*.tmpl"], tmp_path)
    assert templates.text('{{ template "mine" . }}', template_data(_notification())) == "FIRING!"
    assert [p.name for p in templates.files] == ["a.tmpl"]


def test_bad_template_file_fails_config_loading(tmp_path: Path) -> None:
    (tmp_path / "bad.tmpl").write_text('{{ define "x" }}\nok\n{{ if }}\n{{ end }}')
    with pytest.raises(ConfigError) as err:
        NotificationTemplates.load(["*.tmpl"], tmp_path, "am.yml")
    message = str(err.value)
    assert message.startswith("am.yml: templates: ") and "bad.tmpl:3" in message
    with pytest.raises(ConfigError, match=r"bad\.tmpl"):
        build_receivers([{"name": "r"}], global_config={}, templates=["*.tmpl"], base_dir=tmp_path,
                        external_url="")


def test_check_config_reports_a_bad_template_of_an_inline_config(tmp_path: Path) -> None:
    from tsdb.cli.check import check_config

    (tmp_path / "bad.tmpl").write_text('{{ define "x" }}\nok\n{{ if }}\n{{ end }}')
    (tmp_path / "tsdb.yml").write_text("notifications:\n  config:\n    route: {receiver: r}\n"
                                       "    receivers: [{name: r}]\n    templates: ['*.tmpl']\n")
    ok, message = check_config(str(tmp_path / "tsdb.yml"))
    # the file is found next to tsdb.yml; the message is amtool check-config's
    assert not ok and message.endswith("bad.tmpl: template: bad.tmpl:3: missing value for if")
    (tmp_path / "bad.tmpl").write_text('{{ define "x" }}ok{{ end }}')
    assert check_config(str(tmp_path / "tsdb.yml"))[0]


def test_inline_config_templates_relative_to_server_config(tmp_path: Path) -> None:
    from tsdb.server.components.notifications import _base_dir

    assert _base_dir({"config_file": str(tmp_path / "am" / "am.yml")}, "") == tmp_path / "am"
    assert _base_dir({"config": {}}, str(tmp_path / "tsdb.yml")) == tmp_path
    assert _base_dir({"config": {}}, "") is None


# -- receivers --------------------------------------------------------------------------------------------

def test_slack_defaults_are_alertmanagers() -> None:
    slack = SlackIntegration.from_config({"api_url": "http://x", "channel": "#ops"}, {}, "w")
    body = slack.payload(_notification())
    assert body == {"channel": "#ops", "username": "Alertmanager", "attachments": [{
        "title": "[FIRING:2] DiskFull (node critical)", "title_link": f"{URL}/#/alerts?receiver=team-x",
        "text": "", "fallback": f"[FIRING:2] DiskFull (node critical) | {URL}/#/alerts?receiver=team-x",
        "callback_id": "", "footer": "", "color": "danger", "mrkdwn_in": ["fallback", "pretext", "text"]}]}


def test_slack_configured_fields() -> None:
    slack = SlackIntegration.from_config({
        "api_url": "http://x", "title": "{{ .CommonLabels.alertname }} on {{ len .Alerts }}",
        "text": "{{ range .Alerts }}{{ .Labels.instance }} {{ end }}", "short_fields": True,
        "fields": [{"title": "sev", "value": "{{ .CommonLabels.severity }}"}, {"title": "x", "short": False}],
        "actions": [{"type": "button", "text": "Runbook", "url": "{{ .ExternalURL }}/rb"}]}, {}, "w")
    attachment = slack.payload(_notification())["attachments"][0]
    assert attachment["title"] == "DiskFull on 2" and attachment["text"] == "db0 db1 "
    assert attachment["fields"] == [{"title": "sev", "value": "critical", "short": True},
                                    {"title": "x", "short": False}]
    assert attachment["actions"] == [{"type": "button", "text": "Runbook", "url": f"{URL}/rb"}]


def test_pagerduty_defaults_are_alertmanagers() -> None:
    pd = PagerDutyIntegration.from_config({"routing_key": "k"}, {}, "w")
    event = pd.event(_notification(resolved=1))
    assert event["client"] == "Alertmanager" and event["client_url"] == f"{URL}/#/alerts?receiver=team-x"
    assert event["payload"]["summary"] == "[FIRING:2] DiskFull (node critical)"
    assert event["payload"]["source"] == "Alertmanager" and event["payload"]["severity"] == "error"
    details = event["payload"]["custom_details"]
    assert details["num_firing"] == "2" and details["num_resolved"] == "1"
    assert details["firing"].startswith("Labels:\n - alertname = DiskFull\n - instance = db0\n")
    assert "links" not in event and "images" not in event


def test_pagerduty_configured_fields() -> None:
    pd = PagerDutyIntegration.from_config({
        "routing_key": "k", "description": "{{ .CommonAnnotations.summary }}", "client": "tsdb",
        "details": {"firing": "{{ len .Alerts }}", "team": "{{ .Receiver }}"},
        "links": [{"href": "{{ .ExternalURL }}", "text": "home"}, {"href": "", "text": "dropped"}]}, {}, "w")
    event = pd.event(_notification())
    assert event["payload"]["summary"] == "disk full" and event["client"] == "tsdb"
    assert event["payload"]["source"] == "tsdb"  # source defaults to the client template
    assert event["payload"]["custom_details"]["firing"] == "2"
    assert event["payload"]["custom_details"]["team"] == "team-x"
    assert event["links"] == [{"href": URL, "text": "home"}]


def test_email_defaults_are_alertmanagers() -> None:
    mail = EmailIntegration.from_config({"to": "ops@example.com", "from": "am@example.com",
                                         "smarthost": "localhost:25"}, {}, "w")
    msg = email.message_from_bytes(mail.message(_notification()).as_bytes())
    assert msg["Subject"] == "[FIRING:2] DiskFull (node critical)"
    assert msg["To"] == "ops@example.com" and msg["From"] == "am@example.com"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk()
             if p.get_content_maintype() == "text"}
    assert list(parts) == ["text/html"]  # no text part unless `text` is configured, as in Alertmanager
    html = parts["text/html"]
    assert html.startswith("\n\n<!DOCTYPE html") and "<title>[FIRING:2] DiskFull (node critical)</title>" in html
    assert "2 alerts for \n                alertname=DiskFull" in html and "[2] Firing</strong>" in html
    assert 'href="http://p/graph?i=0"' in html and "View in Alertmanager</a>" in html


def test_email_configured_headers_text_and_escaped_html() -> None:
    mail = EmailIntegration.from_config({
        "to": "{{ .CommonLabels.severity }}@example.com", "from": "am@example.com", "smarthost": "localhost:25",
        "headers": {"subject": "{{ len .Alerts }} x {{ .CommonLabels.alertname }}", "X-Team": "{{ .Receiver }}"},
        "text": "{{ .CommonAnnotations.summary }}", "html": "<p>{{ .CommonAnnotations.description }}</p>"},
        {}, "w")
    n = _notification()
    for alert in n.alerts:
        alert.annotations["description"] = "<b>a & b</b>"
    msg = email.message_from_bytes(mail.message(n).as_bytes())
    assert msg["Subject"] == "2 x DiskFull" and msg["To"] == "critical@example.com" and msg["X-Team"] == "team-x"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk()
             if p.get_content_maintype() == "text"}
    assert parts["text/plain"] == "disk full"
    assert parts["text/html"] == "<p>&lt;b&gt;a &amp; b&lt;/b&gt;</p>"


def test_sms_default_text() -> None:
    sms = SmsIntegration.from_config({"url": "http://x", "to": "+1"}, "w")
    assert sms.body(_notification()) == "[FIRING] DiskFull@db0: disk full; DiskFull@db1: disk full;"


def test_tsdb_extensions_in_go_templates() -> None:
    n = _notification(extras={"ack_url": "http://tsdb/ack/1"})
    assert _text("{{ .Extras.ack_url }} {{ .GroupKey }}", n) == 'http://tsdb/ack/1 {}:{alertname="DiskFull"}'


def test_jinja2_is_an_explicit_opt_in() -> None:
    receivers = [{"name": "j", "template_engine": "jinja2", "slack_configs": [
        {"api_url": "http://x", "title": "{{ status | upper }} {{ alerts | length }} {{ extras.ack_url }}"}]}]
    built = build_receivers(receivers, global_config={}, templates=[], base_dir=None, external_url=URL)
    (slack,) = built._integrations["j"]
    assert isinstance(slack, SlackIntegration) and slack.engine == "jinja2"
    attachment = slack.payload(_notification(extras={"ack_url": "http://ack"}))["attachments"][0]
    assert attachment["title"] == "FIRING 2 http://ack"
    assert attachment["color"] == "danger"  # fields left unset keep Alertmanager's (Go) defaults
    with pytest.raises(ConfigError, match="template_engine"):
        build_receivers([{"name": "j", "template_engine": "mustache"}], global_config={}, templates=[],
                        base_dir=None, external_url="")


def test_failed_template_fails_the_attempt_and_is_counted() -> None:
    slack = SlackIntegration.from_config({"api_url": "http://x", "title": "{{ .Nope.Deeper }}"}, {}, "w")
    before = fields_module.template_failures
    with pytest.raises(FieldTemplateError, match="title"):
        slack.payload(_notification())
    assert fields_module.template_failures == before + 1
    from tsdb.alerting.receivers.common import build_or_fail

    with pytest.raises(DeliveryError) as err:
        build_or_fail(slack.payload, _notification())
    assert err.value.retry is False


def test_renderer_html_escapes_data_only() -> None:
    n = _notification()
    n.alerts[0].labels["instance"] = "a<b>"
    r = FieldRenderer(n)
    assert r.html("h", '{{ range .Alerts }}{{ .Labels.instance }},{{ end }}<i>x</i>') == "a&lt;b&gt;,db1,<i>x</i>"
    assert r.text("t", "{{ range .Alerts }}{{ .Labels.instance }},{{ end }}") == "a<b>,db1,"


def test_functions_of_newer_alertmanager_releases() -> None:
    """date, tz, since, humanizeDuration and trimSpace, as Alertmanager 0.26+ define them."""
    import time as _time

    from tsdb.alerting.gotmpl.funcs import DEFAULT_FUNCS
    from tsdb.alerting.gotmpl.gotime import GoTime
    from tsdb.gotemplate.template import TemplateError, TemplateSet

    templates = TemplateSet(DEFAULT_FUNCS)
    at = GoTime.from_seconds(1767323045.5)  # 2026-01-02 03:04:05.5 UTC

    def render(text: str) -> str:
        return templates.execute_text(text, {"T": at})

    assert render('{{ .T | date "2006-01-02 15:04 MST" }}') == "2026-01-02 03:04 UTC"
    assert render('{{ .T | tz "Europe/Paris" }}') == "2026-01-02 04:04:05.5 +0100 CET"
    assert render('{{ .T | tz "Asia/Kolkata" | date "15:04 -07:00 Z07:00" }}') == "08:34 +05:30 +05:30"
    assert render('{{ .T | tz "America/Caracas" }}') == "2026-01-01 23:04:05.5 -0400 -04"
    assert render("{{ 3725 | humanizeDuration }}") == "1h 2m 5s"
    assert render('{{ trimSpace "  padded\\t" }}') == "padded"
    recent = GoTime.from_seconds(_time.time() - 90)
    assert templates.execute_text("{{ since .T }}", {"T": recent}).startswith("1m3")
    with pytest.raises(TemplateError, match="unknown time zone Nowhere/City"):
        render('{{ .T | tz "Nowhere/City" }}')
