"""Talking to the Whereby API: the client, its transport, the fetch pool and the rate budget."""
