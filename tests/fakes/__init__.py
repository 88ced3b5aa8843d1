"""Test doubles that speak real protocols (HTTP servers on loopback)."""
