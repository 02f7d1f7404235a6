"""The virtual-clock service of an emulation run (see DESIGN.md, "Virtual time").

protocol.py describes the wire protocols (the clock page and the control endpoint); page.py mirrors
the page's C layout; service.py is the Timekeeper; calibrate.py measures cpu_scale. Nothing is
imported here, so that ``python3 -m timekeeper.calibrate`` runs on a host with only the standard
library (and torch).
"""
