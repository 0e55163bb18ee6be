"""Peer apps serving the same authenticated read with what one would otherwise use."""
