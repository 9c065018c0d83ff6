"""Drawing only: charts, image grids, tables and formulas (no runs, no login)."""
