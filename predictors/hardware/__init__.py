"""Hardware catalog data (<key>.json), the probes it is built from, and the script that builds it."""
