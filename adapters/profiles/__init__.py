"""Shipped device profiles (TOML package data); load them with ``adapters.profile_loader``."""
