"""Pure drafting core: mail understanding, prompts and the offline drafter.

Nothing here imports Flask, SQLAlchemy or a provider SDK (tests/test_layers.py enforces it), so
the core can be reasoned about and tested as plain functions.
"""
