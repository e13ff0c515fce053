// Package job gives each job a stable identifier derived from its target.
package job

import "github.com/google/uuid"

var namespace = uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8")

// ID is the same for the same target on every machine (UUIDv5).
func ID(target string) string {
	return uuid.NewSHA1(namespace, []byte(target)).String()
}
