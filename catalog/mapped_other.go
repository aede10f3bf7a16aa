//go:build !linux

package catalog

import bolt "go.etcd.io/bbolt"

// releaseMapped is a no-op where MADV_DONTNEED is not used.
func releaseMapped(*Tx) {}

// releaseMap is a no-op where MADV_DONTNEED is not used.
func releaseMap(*bolt.DB, int64) {}
