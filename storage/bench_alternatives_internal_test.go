package storage

import (
	"testing"
	"time"
)

// The benchmark's alternative designs must give the same verdicts as Store,
// or their numbers compare different work.
func TestAlternativeDesignsVerdicts(t *testing.T) {
	for _, design := range []string{"compaction_filter", "ttl"} {
		t.Run(design, func(t *testing.T) {
			clock := newFakeClock(t0)
			var s *singleCFStore
			var err error
			if design == "ttl" {
				s, err = openTTLStore(t.TempDir(), time.Hour)
			} else {
				s, _, err = openCompactionFilterStore(t.TempDir(), time.Hour, clock.Now)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			for _, want := range []Verdict{Unique, Replay} {
				entries := entriesFor(20, 0, 500, 0)
				results := make([]Result, len(entries))
				if err := s.LookupAndInsert(entries, results); err != nil {
					t.Fatal(err)
				}
				requireAll(t, design, results, want)
			}
		})
	}
}

func TestCompactionFilterRemovesExpired(t *testing.T) {
	clock := newFakeClock(t0)
	s, filter, err := openCompactionFilterStore(t.TempDir(), time.Hour, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries := entriesFor(21, 0, 300, 0)
	if err := s.LookupAndInsert(entries, make([]Result, len(entries))); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	entries = entriesFor(21, 300, 500, 0)
	if err := s.LookupAndInsert(entries, make([]Result, len(entries))); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(30 * time.Minute)
	s.compactAll()
	if got := filter.removedKeys(); got != 300 {
		t.Errorf("compaction filter removed %d keys, want the 300 stored an hour ago", got)
	}
	if got := s.keysEstimate(); got != 200 {
		t.Errorf("keys after compaction = %d, want 200", got)
	}
}
