"""The bottom layer: settings, errors, the Temporal connection, logging. It imports nothing of the app."""
