"""Signals for host code: ``alert_raised`` and ``alert_resolved`` (sender ``Alert``, argument ``alert``)."""

from django.dispatch import Signal

# Sent once when an alert opens (unless silenced), after the row is committed.
alert_raised = Signal()
# Sent once when the condition of a notified alert clears.
alert_resolved = Signal()
