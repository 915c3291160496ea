"""Storage: database models and migrations, config versions, secrets vault, git mirror.

Every query helper takes the tenant id: no helper can read or change another tenant's
rows. Open the store with :class:`tikguard.store.db.Database`.

- ``db``: engine, sessions, migrations (``Database.open``, ``transaction``, ``run_async``)
- ``models``: the tables; ``migrations/``: their Alembic history, shipped in the package
- ``vault`` / ``rotation``: AES-256-GCM envelope encryption and key rotation
- ``tenants``, ``devices``, ``versions``, ``operations``, ``audit``: query helpers
- ``mirror``: each tenant's history as a bare git repository
"""
