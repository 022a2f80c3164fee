// The land panel: fetches /carte/terrain fragments (filled by the panel work).
