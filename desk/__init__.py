"""The top layer: pages that read across every app (the overview), above invoicing."""
