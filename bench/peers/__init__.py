"""Peer contenders for ``bench/bench_peers.py``: dlt's ``rest_api`` source and a per-object loader."""
