"""Local destination emulators for tests, benchmarks and the demo.

handle = start_emulator("hubspot", token="t", faults=Faults(error_rate=0.2))
... point a destination's base_url at handle.base_url ...
handle.app.contacts  # final state; handle.app.requests: every request received
handle.stop()
"""

from reverse_etl.testing.server import EmulatorHandle, Faults, RequestRecord, start_emulator

__all__ = ["EmulatorHandle", "Faults", "RequestRecord", "start_emulator"]
