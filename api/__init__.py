"""HTTP only: OGC API, REST for notes and accounts, the web map. Thin adapters over the other packages."""
