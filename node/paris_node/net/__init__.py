"""The p2p layer: how daemons find each other and hear news before the chain says it.

`p2p.P2PHost` runs a py-libp2p host with gossipsub in its own trio thread; `gossip` is the signed, versioned
message format and its checks; `network.Network` joins topics, sends heartbeats with peer exchange and
vouches for senders by their stake (`liveness` tracks who is alive and what they train); `presence.Presence`
is what a daemon holds of all this (optional network, metrics, a run loop that gossip wakes early), and
`status_api` serves a daemon's status and Prometheus `metrics` over HTTP.
"""

from paris_node.net.network import Members, Network
from paris_node.net.presence import Presence
from paris_node.net.status_api import Status, StatusServer

__all__ = ["Members", "Network", "Presence", "Status", "StatusServer"]
