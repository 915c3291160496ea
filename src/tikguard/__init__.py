"""tikguard: safe change for MikroTik RouterOS fleets."""

__version__ = "0.1.0"
