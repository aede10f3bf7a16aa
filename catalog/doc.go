// Package catalog is chantal-lite's record store: repositories, items,
// repository states, snapshots and sync runs, kept in one bbolt file.
//
// The catalog knows nothing about package formats. An [Item] carries a
// format's fields and native metadata fragments as opaque strings and bytes;
// a [State] is a sorted list of [Ref]s (item digest plus per-link attributes)
// and repo-level [File]s.
//
// # Storage
//
// States are content-addressed: a state's [StateID] is a SHA-256 over its
// canonical encoding, so two states are equal exactly when their IDs are.
// The sorted ref list is cut into chunks at content-defined boundaries (after
// a ref whose hash of (Path, Digest) has its low 8 bits zero, about 256 refs
// per chunk on average), and every chunk is stored once under its own
// SHA-256. A small change to a large state therefore rewrites only the chunks
// it touches plus the state's chunk list, and repositories and snapshots
// holding the same content share the same chunks. States and chunks are
// reference-counted by their holders (repositories and snapshots); the last
// release deletes them. Callers never see the counts.
//
// All access goes through [DB.View] and [DB.Update], which hand a [Tx] to a
// callback. Data returned by a Tx is copied out of the database and stays
// valid after the transaction. Keep write transactions short: download and
// verify outside them, then commit in one Update.
package catalog
