"""Built-in restorers (skeleton; filled in by its own module)."""
