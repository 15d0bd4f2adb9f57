"""Systems that use a secret (a database role, a hook) behind :class:`~rotation.targets.base.Target`."""
