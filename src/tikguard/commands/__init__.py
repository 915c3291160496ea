"""CLI command groups. Each module exposes ``register(app)``; see :mod:`tikguard.cli`."""
