"""What the API and the web UI share: app state, errors, sessions, events, limits."""
