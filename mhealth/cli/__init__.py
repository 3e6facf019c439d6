"""The ``mhealth`` command line: ``main`` plus one module per subcommand; no logic others import."""
