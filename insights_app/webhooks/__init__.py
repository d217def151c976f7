"""Whereby webhook intake: verify, store, enqueue; live presence and delayed room syncs (docs/webhooks.md)."""
