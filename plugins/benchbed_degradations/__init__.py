"""Built-in degradations (skeleton; filled in by its own module)."""
