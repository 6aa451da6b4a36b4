package storage

import (
	"strings"
	"testing"
	"time"
)

func TestOpenRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"empty path", Options{}, []string{"path is empty"}},
		{"negative retention", Options{Path: "x", Retention: -time.Hour}, []string{"retention -1h0m0s is negative"}},
		{"negative max bytes", Options{Path: "x", MaxBytes: -1}, []string{"max bytes -1 is negative"}},
		{"negative block cache", Options{Path: "x", BlockCacheBytes: -5}, []string{"block cache bytes -5 is negative"}},
		{"too many buckets", Options{Path: "x", Buckets: MaxBuckets + 1}, []string{"buckets 65 is out of range"}},
		{"negative buckets", Options{Path: "x", Buckets: -2}, []string{"buckets -2 is out of range"}},
		{"bucket below 1ms", Options{Path: "x", Retention: 3 * time.Millisecond, Buckets: 4}, []string{"shorter than 1ms"}},
		{
			"every violation reported",
			Options{Retention: -time.Second, MaxBytes: -1},
			[]string{"path is empty", "retention -1s is negative", "max bytes -1 is negative"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Path != "" {
				// A valid path must not be created for invalid options.
				tt.opts.Path = t.TempDir() + "/store"
			}
			s, err := Open(tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v) succeeded, want an error", tt.opts)
			}
			for _, want := range append([]string{"invalid store options"}, tt.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Path: "p"}.withDefaults()
	if o.Retention != DefaultRetention {
		t.Errorf("Retention = %v, want %v", o.Retention, DefaultRetention)
	}
	if o.Buckets != DefaultBuckets {
		t.Errorf("Buckets = %d, want %d", o.Buckets, DefaultBuckets)
	}
	if o.BlockCacheBytes != DefaultBlockCacheBytes {
		t.Errorf("BlockCacheBytes = %d, want %d", o.BlockCacheBytes, DefaultBlockCacheBytes)
	}
	if o.MaxBytes != 0 {
		t.Errorf("MaxBytes = %d, want 0 (unlimited)", o.MaxBytes)
	}
	if o.Now == nil || o.Logger == nil {
		t.Errorf("Now or Logger not defaulted: Now nil %v, Logger nil %v", o.Now == nil, o.Logger == nil)
	}
	if got, want := o.bucketWidthMs(), (DefaultRetention / DefaultBuckets).Milliseconds(); got != want {
		t.Errorf("bucketWidthMs = %d, want %d", got, want)
	}
	if err := o.validate(); err != nil {
		t.Errorf("validate of defaults: %v", err)
	}
}

func TestOpenCreatesMissingParents(t *testing.T) {
	path := t.TempDir() + "/a/b/events_3"
	s := openTestStore(t, Options{Path: path})
	requireAll(t, "insert", lookup(t, s, entriesFor(1, 0, 3, 0)), Unique)
}

func TestOpenPathIsFile(t *testing.T) {
	file := t.TempDir() + "/file"
	if err := writeFile(file); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Path: file})
	if err == nil || !strings.Contains(err.Error(), "cannot create dedup store directory "+file) {
		t.Fatalf("Open on a regular file: error %v, want one naming the path", err)
	}
}

func TestRemedyForKnownErrors(t *testing.T) {
	tests := []struct {
		message string
		want    string
	}{
		{"IO error: No space left on device: While appending to file: /s/000012.log", "the disk holding /s is full"},
		{"IO error: While open a file for appending: /s/000012.log: Permission denied", "can read and write /s"},
		{"IO error: While open a file for random read: /s/000009.sst: Too many open files", "ulimit -n"},
		{"Corruption: block checksum mismatch", "move /s aside"},
		{"Invalid argument: something else", ""},
	}
	for _, tt := range tests {
		got := remedy("/s", errorString(tt.message))
		if tt.want == "" && got != "" {
			t.Errorf("remedy(%q) = %q, want none", tt.message, got)
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("remedy(%q) = %q, want it to contain %q", tt.message, got, tt.want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
