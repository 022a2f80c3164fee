"""OGC API (Features, Tiles, Processes) under /ogc."""
