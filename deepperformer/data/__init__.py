"""Dataset preparation: one module per dataset, one manifest format, one split policy."""
