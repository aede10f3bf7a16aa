package catalog

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// releaseMapped drops this process's page table entries for the catalog's
// memory map (MADV_DONTNEED). bbolt maps the file read-only and shared, so
// the next access faults the same bytes back in from the page cache; only
// the process's resident set shrinks. A long read such as Export calls it
// now and then, so reading the whole catalog does not count the whole file
// against the process's RSS. Errors are ignored: it is only a hint.
func releaseMapped(tx *Tx) { releaseMap(tx.tx.DB(), tx.tx.Size()) }

// releaseMap drops the page table entries of the first size bytes of db's
// memory map; see releaseMapped.
func releaseMap(db *bolt.DB, size int64) {
	info := db.Info()
	if info == nil || info.Data == 0 || size <= 0 {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, info.Data, uintptr(size), syscall.MADV_DONTNEED) //nolint:errcheck // a hint
}
