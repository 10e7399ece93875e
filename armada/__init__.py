"""Armada Backend: the tracking service of the Armada automation platform."""
