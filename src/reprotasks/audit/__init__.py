"""The pinning audit: readers per file kind, the rules, and the text/JSON/SARIF reports."""
