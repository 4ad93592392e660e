"""Bring your own data: the source contract, where each source lives, the adapters for the
shapes loaders write, and `tessera sources check | init` (README "Use your own data")."""
