"""Blueprints of the Management API (/api/v1/...) and of the emulator's admin endpoints (/_emulator/...)."""
