"""The sample territory: a deterministic, plausible piece of Casablanca (fictitious data)."""
