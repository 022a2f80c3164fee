"""urbasig's collections in an agency's own pygeoapi: ``name: urbasig_pygeoapi.UrbasigProvider`` (see README)."""

from urbasig_pygeoapi.provider import UrbasigProvider

__all__ = ["UrbasigProvider"]
