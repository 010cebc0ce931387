"""The presets capability has no settings of its own: a preset changes the others'."""

from __future__ import annotations

NAME = "presets"
