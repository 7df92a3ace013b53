"""Click command groups, one module per package; winback/cli.py assembles them."""
