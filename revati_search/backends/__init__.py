"""Serving engines a run can drive (the run file's `backend:`)."""
