"""The e2e tier (a package, so its crossplane.py never shadows the crossplane SDK)."""
