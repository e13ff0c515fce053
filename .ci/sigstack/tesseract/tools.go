//go:build tools

package tools

import _ "github.com/transparency-dev/tesseract/cmd/tesseract/posix"
