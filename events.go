package chantal

// EventKind says what an Event reports.
type EventKind int

// The kinds of progress events.
const (
	// SyncStarted: a repository's sync begins.
	SyncStarted EventKind = iota + 1
	// ScanDone: upstream metadata is read; Total is the number of items wanted.
	ScanDone
	// FetchStarted: a payload download begins; Total is its size (-1 unknown).
	FetchStarted
	// FetchProgress: Bytes of Total have arrived.
	FetchProgress
	// ItemAdded: a payload is in the pool.
	ItemAdded
	// ItemFailed: a payload failed; Err says why.
	ItemFailed
	// SyncDone: a repository's sync ended (Err set on failure).
	SyncDone
	// VerifyProgress: Bytes of Total pool blobs were checked.
	VerifyProgress
	// PublishDone: a publish ended.
	PublishDone
)

// Event is one progress report. It carries data only; rendering is the caller's.
type Event struct {
	Kind  EventKind
	Repo  string
	Path  string
	Bytes int64
	Total int64
	Err   error
}

// A Reporter receives progress events. Report may be called from several
// goroutines at once and must not block for long.
type Reporter interface {
	Report(Event)
}

// ReporterFunc adapts a function to a Reporter.
type ReporterFunc func(Event)

// Report calls f(e).
func (f ReporterFunc) Report(e Event) { f(e) }

type nopReporter struct{}

func (nopReporter) Report(Event) {}
