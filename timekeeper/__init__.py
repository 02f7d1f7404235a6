"""The virtual-clock service of an emulation run (see DESIGN.md, "Virtual time")."""
