"""``hftctl demo``: sim + connector + collector --ipc + grid market maker, offline, bounded."""
