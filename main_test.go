package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersionFlag(t *testing.T) {
	code, stdout, _ := runCLI(t, "-version")
	if code != 0 {
		t.Fatalf("exit code = %d, want 0", code)
	}
	if !strings.HasPrefix(stdout, "kafka-deduplicator ") {
		t.Errorf("output = %q, want it to start with the program name and version", stdout)
	}
}

func TestUnknownFlag(t *testing.T) {
	code, _, stderr := runCLI(t, "-no-such-flag")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr, "no-such-flag") {
		t.Errorf("stderr = %q, want it to name the flag", stderr)
	}
}

func TestMissingConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.toml")
	code, _, stderr := runCLI(t, "-config", path, "-check-config")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr, "absent.toml") || !strings.Contains(stderr, "cannot read config file") {
		t.Errorf("stderr = %q, want it to say the file cannot be read and name it", stderr)
	}
}

func TestCheckConfigRedactsSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	text := `
[kafka.sasl]
mechanism = "SCRAM-SHA-512"
username = "dedup"
password = "hunter2-secret"
[[topics]]
source = "in"
output = "out"
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "-config", path, "-check-config")
	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr: %s", code, stderr)
	}
	if strings.Contains(stdout, "hunter2-secret") {
		t.Errorf("effective config shows the password:\n%s", stdout)
	}
	for _, want := range []string{"REDACTED", `source = "in"`, `group = "kafka-deduplicator-in"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("effective config lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCheckConfigRejectsBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[store]\nretention = \"forever\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "-config", path, "-check-config")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr, `"forever"`) {
		t.Errorf("stderr = %q, want it to name the bad value", stderr)
	}
}
