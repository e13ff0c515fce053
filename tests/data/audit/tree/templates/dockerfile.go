package templates

// Dockerfile is scaffolded into new projects; this Go file is not a Dockerfile.
const Dockerfile = `
FROM golang:1.22 AS builder
RUN go install example.com/tool@latest
`
