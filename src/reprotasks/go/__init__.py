"""Go: go.mod/go.sum (tidy, download, verify, pins) and reproducible cross builds of main packages."""
