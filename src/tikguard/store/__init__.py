"""Storage: database models and migrations, config versions, secrets vault, git mirror.

Every query helper takes the tenant id: no helper can read or change another tenant's
rows. Open the store with :class:`tikguard.store.db.Database`.
"""
