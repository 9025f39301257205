"""The review queue (panel with grid, filters, keys and summary) and the old-against-new comparison shown
before a retrained version is activated."""
