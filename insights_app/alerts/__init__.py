"""Alerts: rules evaluated on a schedule, their life (open, resolved, silenced) and delivery."""
