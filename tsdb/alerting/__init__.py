"""Notifications: routing, grouping, silences, inhibition, receivers, escalation."""
