"""GitHub: the release workflow template and its rendering."""
