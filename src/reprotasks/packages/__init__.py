"""Linux packages (.deb, .rpm) of the built Go binaries."""
