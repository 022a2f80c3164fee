"""Development tools that the server never imports and the wheel does not ship (e.g. the local payment gateway)."""
