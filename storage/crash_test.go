package storage

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// crashChildEnv names the store directory when the test binary runs as the
// child process of TestReopenAfterCrash.
const crashChildEnv = "STORAGE_TEST_CRASH_CHILD_DIR"

// crashChildKeys is how many keys the child stores before it is killed.
const crashChildKeys = 3000

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(runCrashChild(dir))
	}
	os.Exit(m.Run())
}

// runCrashChild stores keys, reports "stored" on stdout and waits to be
// killed, never closing the store.
func runCrashChild(dir string) int {
	s, err := Open(Options{Path: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for from := 0; from < crashChildKeys; from += 1000 {
		entries := entriesFor(11, from, from+1000, 0)
		if err := s.LookupAndInsert(entries, make([]Result, len(entries))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("stored")
	time.Sleep(time.Minute)
	return 2
}

func TestReopenAfterCrash(t *testing.T) {
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+dir)
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}

	// Kill the child with SIGKILL once it has stored its keys, while its
	// store is open and its memtable not flushed.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "stored" {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("child output %q, %v; want \"stored\"", line, err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err == nil {
		t.Fatal("child exited cleanly, want it killed")
	}

	sstFiles := countFiles(t, dir, ".sst")
	if sstFiles != 0 {
		t.Logf("child left %d SST files; the keys may not all come from the WAL", sstFiles)
	}
	s := openTestStore(t, Options{Path: dir})
	requireAll(t, "keys stored before the crash", lookup(t, s, entriesFor(11, 0, crashChildKeys, 0)), Replay)
	requireAll(t, "new keys after the crash", lookup(t, s, entriesFor(11, crashChildKeys, crashChildKeys+10, 0)), Unique)
}

func countFiles(t *testing.T, dir, suffix string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			n++
		}
	}
	return n
}
