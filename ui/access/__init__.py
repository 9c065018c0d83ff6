"""Who is using the app: classroom mode or local, the login gate, roles."""
