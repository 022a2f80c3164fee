"""Pure geometry: CRS, land references, validation and repair, areas and shares.

No database, no Flask, no environment reads: see README.md in this folder.
"""
