"""Backbones mmpretrain lacks (none needed yet by the configs)."""
__all__: list = []
