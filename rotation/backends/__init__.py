"""Secret stores behind one interface (:class:`~rotation.backends.base.SecretBackend`)."""
