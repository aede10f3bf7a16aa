package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/chantal-lite/chantal"
)

// progress renders chantal events: a bar per repository on a terminal, plain
// lines otherwise (start, end and failures; every item with --verbose).
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	plain   bool
	verbose bool
	bar     *progressbar.ProgressBar
}

func newProgress(w io.Writer, plain, verbose bool) *progress {
	return &progress{w: w, plain: plain, verbose: verbose}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Report implements chantal.Reporter.
func (p *progress) Report(e chantal.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case chantal.ScanDone:
		if !p.plain {
			p.finishLocked()
			p.bar = progressbar.NewOptions64(e.Total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(e.Repo),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(100_000_000))
		} else if p.verbose {
			fmt.Fprintf(p.w, "%s: %d items wanted\n", e.Repo, e.Total)
		}
	case chantal.ItemAdded:
		if p.bar != nil {
			p.bar.Add(1)
		} else if p.verbose {
			fmt.Fprintf(p.w, "%s: fetched %s\n", e.Repo, e.Path)
		}
	case chantal.ItemFailed:
		if p.bar != nil {
			p.bar.Add(1)
		}
		if !p.plain || p.verbose {
			fmt.Fprintf(p.w, "\n%s: %s failed: %v\n", e.Repo, e.Path, e.Err)
		}
	case chantal.SyncStarted:
		if p.verbose {
			fmt.Fprintf(p.w, "%s: sync started\n", e.Repo)
		}
	case chantal.SyncDone:
		p.finishLocked()
	}
}

func (p *progress) finishLocked() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
}
