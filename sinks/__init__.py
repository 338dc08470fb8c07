"""Sink plugins: one folder per attendance system."""
