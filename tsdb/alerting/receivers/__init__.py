"""Notification channels: ``build_receivers`` turns Alertmanager ``receivers:`` into a :class:`ReceiverSet`.

Implemented integrations: ``webhook_configs`` (Alertmanager's webhook v4 body), ``slack_configs``,
``email_configs``, ``pagerduty_configs`` (Events API v2), each building what Alertmanager 0.25 sends, and
the extensions ``sms_configs`` (an HTTP SMS gateway) and ``alertmanager_configs`` (forwarding). Text fields
are Go templates (:mod:`tsdb.alerting.gotmpl`). Other keys are reported in ``ReceiverSet.unsupported``
(never a crash). See docs/alerting.md.
"""

from __future__ import annotations

from tsdb.alerting.receivers.base import DeliveryMetrics, ReceiverSet, build_receivers

__all__ = ["DeliveryMetrics", "ReceiverSet", "build_receivers"]
