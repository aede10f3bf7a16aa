package pool_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/chantal-lite/chantal/pool"
)

func TestGenerationMovesOnlyOnRemove(t *testing.T) {
	s, err := pool.Open(t.TempDir(), &pool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	g0, err := s.Generation()
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Put(context.Background(), bytes.NewReader([]byte("x")), pool.PutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Generation(); g != g0 {
		t.Fatalf("Put moved the generation %d → %d", g0, g)
	}
	if err := s.Remove(info.Digest); err != nil {
		t.Fatal(err)
	}
	g1, _ := s.Generation()
	if g1 == g0 {
		t.Fatal("Remove did not move the generation")
	}
	if err := s.Remove(info.Digest); err == nil {
		t.Fatal("second Remove succeeded")
	}
	if g, _ := s.Generation(); g != g1 {
		t.Fatal("a failed Remove moved the generation")
	}
}
