module example.com/hybrid/worker

go 1.23.0

toolchain go1.26.8

require github.com/google/uuid v1.6.0
