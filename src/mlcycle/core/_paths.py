"""Names of the files and folders a workspace holds."""

from __future__ import annotations

#: The workspace configuration file.
CONFIG_FILE = "mlcycle.yaml"
