"""Reports of runs: the report as data, its exports (PDF, HTML, CSV, JSON) and its seal."""
