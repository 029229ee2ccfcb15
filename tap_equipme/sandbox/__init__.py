"""A local, spec-faithful double of the Equipme Supplier API, for tests and demos."""

from __future__ import annotations

from tap_equipme.sandbox.control import SandboxControl, SandboxControlError
from tap_equipme.sandbox.faults import Faults
from tap_equipme.sandbox.server import SandboxServer

__all__ = ["Faults", "SandboxControl", "SandboxControlError", "SandboxServer"]
