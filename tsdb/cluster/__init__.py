"""Notification clusters through etcd: membership, leases, the dispatcher election and shared alerting state."""
