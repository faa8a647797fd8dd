"""The dashboard's views: one module per tab, each view reading only the session's DataStore."""
