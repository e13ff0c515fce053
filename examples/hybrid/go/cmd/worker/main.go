// Command worker reads a job plan on stdin and reports the job it would run.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"example.com/hybrid/worker/internal/job"
)

var version = "dev"

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		fmt.Printf("worker %s: job %s for %q\n", version, job.ID(line), line)
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}
