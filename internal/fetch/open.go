package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Open streams the file at path, relative to the repository root. It implements
// formats.Source. path must be clean-able and confined to the root (no "..",
// no leading "/", no backslash or control characters), else the error wraps
// ErrPath. A missing file gives an error wrapping ErrNotFound.
//
// Failures before the first byte are retried. When the body breaks off later
// (connection reset, truncation, idle timeout) and the server advertised byte
// ranges and a strong validator (ETag or Last-Modified), the reader resumes
// transparently with Range and If-Range; if the file changed meanwhile, Read
// returns an error wrapping ErrChanged. Without range support the read error is
// returned. The context governs the whole stream. Callers must Close the
// reader, which frees the concurrency slot.
func (s *Source) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	p, err := cleanPath(path)
	if err != nil {
		return nil, err
	}
	var rep *reply
	err = s.retry(ctx, p, func(int) error {
		var err error
		rep, err = s.attempt(ctx, attemptReq{path: p})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &resumeReader{
		s: s, ctx: ctx, path: p, cur: rep, total: rep.total,
		validator: rep.validator(),
		canResume: rep.ranges && rep.validator() != "",
	}, nil
}

// resumeReader reads one file across interrupted responses.
type resumeReader struct {
	s         *Source
	ctx       context.Context
	path      string
	cur       *reply
	off       int64 // bytes delivered so far
	total     int64 // -1 if unknown
	validator string
	canResume bool
	resumes   int
	err       error // sticky
}

func (r *resumeReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		n, err := r.s.read(r.ctx, r.cur.body, p)
		r.off += int64(n)
		if n > 0 {
			r.s.report(r.path, r.off, r.total)
		}
		if err == io.EOF && r.total >= 0 && r.off < r.total {
			err = fmt.Errorf("fetch: reading %s: %w after %d of %d bytes", r.path, io.ErrUnexpectedEOF, r.off, r.total)
		}
		if err == nil {
			return n, nil
		}
		if err == io.EOF {
			r.err = io.EOF
			return n, io.EOF
		}
		if rerr := r.resume(err); rerr != nil {
			r.err = rerr
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces the broken response with one from the current offset.
func (r *resumeReader) resume(cause error) error {
	if !r.canResume || !retryable(r.ctx, cause) {
		return cause
	}
	r.cur.body.Close()
	for r.resumes < r.s.retries {
		r.resumes++
		if err := r.s.pause(r.ctx, r.path, r.resumes, cause); err != nil {
			return err
		}
		r.s.log.Debug("fetch: resuming", "path", r.path, "offset", r.off)
		rep, err := r.s.attempt(r.ctx, attemptReq{path: r.path, off: r.off, ifRange: r.validator})
		if err != nil {
			if !retryable(r.ctx, err) {
				return err
			}
			cause = err
			continue
		}
		if rep.start != r.off {
			rep.body.Close()
			return &permanentError{fmt.Errorf("fetch: resuming %s at byte %d: %w", r.path, r.off, ErrChanged)}
		}
		if rep.total >= 0 {
			r.total = rep.total
		}
		r.cur = rep
		return nil
	}
	return cause
}

func (r *resumeReader) Close() error {
	if r.err == nil {
		r.err = errors.New("fetch: read after close")
	}
	return r.cur.body.Close()
}

// GetRequest asks for a small file, typically top-level metadata.
type GetRequest struct {
	Path string
	// ETag and LastModified, from an earlier GetResponse, make the request
	// conditional.
	ETag, LastModified string
	// MaxSize bounds the body; 0 means DefaultMaxSize. A larger body is an error
	// wrapping ErrTooLarge.
	MaxSize int64
}

// GetResponse is the answer to a GetRequest.
type GetResponse struct {
	// NotModified is true when the server confirmed the validators; Data is nil.
	NotModified bool
	Data        []byte
	// ETag and LastModified are the validators to send next time.
	ETag, LastModified string
}

// Get fetches a whole file into memory, retrying failed or truncated transfers.
// With ETag or LastModified set it is a conditional request and a 304 answer
// gives NotModified. A file:// Source never answers NotModified.
func (s *Source) Get(ctx context.Context, req GetRequest) (*GetResponse, error) {
	p, err := cleanPath(req.Path)
	if err != nil {
		return nil, err
	}
	limit := req.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	var out *GetResponse
	err = s.retry(ctx, p, func(int) error {
		ar := attemptReq{path: p}
		if s.root == "" {
			ar.etag, ar.lastMod = req.ETag, req.LastModified
		}
		rep, err := s.attempt(ctx, ar)
		if err != nil {
			return err
		}
		if rep.notModified {
			out = &GetResponse{NotModified: true, ETag: rep.etag, LastModified: rep.lastMod}
			if out.ETag == "" {
				out.ETag = req.ETag
			}
			if out.LastModified == "" {
				out.LastModified = req.LastModified
			}
			return nil
		}
		defer rep.body.Close()
		data, err := s.readAll(ctx, p, rep, limit)
		if err != nil {
			return err
		}
		out = &GetResponse{Data: data, ETag: rep.etag, LastModified: rep.lastMod}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readAll reads rep's body, at most limit bytes, checking its declared length.
func (s *Source) readAll(ctx context.Context, p string, rep *reply, limit int64) ([]byte, error) {
	if rep.total > limit {
		return nil, fmt.Errorf("fetch: get %s: %w: %d bytes, limit %d", p, ErrTooLarge, rep.total, limit)
	}
	var buf bytes.Buffer
	if rep.total > 0 {
		buf.Grow(int(rep.total))
	}
	chunk := make([]byte, 32<<10)
	for {
		n, err := s.read(ctx, rep.body, chunk)
		buf.Write(chunk[:n])
		if int64(buf.Len()) > limit {
			return nil, fmt.Errorf("fetch: get %s: %w: more than %d bytes", p, ErrTooLarge, limit)
		}
		if n > 0 {
			s.report(p, int64(buf.Len()), rep.total)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if rep.total >= 0 && int64(buf.Len()) != rep.total {
		return nil, fmt.Errorf("fetch: get %s: %w after %d of %d bytes", p, io.ErrUnexpectedEOF, buf.Len(), rep.total)
	}
	return buf.Bytes(), nil
}
