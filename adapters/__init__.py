"""Source plugins: one folder per ERP."""
