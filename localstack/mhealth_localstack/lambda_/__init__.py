"""Lambda on the host: the ``local`` runtime executor and the runtime process it starts."""
