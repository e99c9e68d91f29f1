"""`make bench`: how fast the platform is, measured side by side (python -m bench)."""
