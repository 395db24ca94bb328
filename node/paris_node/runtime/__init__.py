"""Starting things: settings, keys, the local devnet and the daemons' command lines.

`config` layers defaults, devnet.json, a TOML file and PARIS_* variables into one typed `Config`; `keys`
loads a signing account from an encrypted keystore or the environment; `devnet` supervises anvil, IPFS, the
deployed market and a bootstrap peer on loopback; `cli` is what every daemon's command line shares
(options, connecting, the signal-aware run loop) and `miner_cli` is `paris-miner`.
"""

from paris_node.runtime.config import Config, ConfigError, load
from paris_node.runtime.keys import SigningKeyError, load_account

__all__ = ["Config", "ConfigError", "SigningKeyError", "load", "load_account"]
