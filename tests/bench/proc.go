package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks returns the kernel clock ticks per second (CLK_TCK) that
// /proc/PID/stat counts CPU time in, from getconf, or 100 (the value on
// common Linux builds) when getconf fails.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
}

// procCPUSeconds returns the user plus system CPU time of process pid, all
// its threads included, from /proc/PID/stat.
func procCPUSeconds(pid int, ticks float64) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot read the CPU time of process %d: %w", pid, err)
	}
	return parseStatCPU(data, ticks)
}

// parseStatCPU extracts utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name in field 2 may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func parseStatCPU(stat []byte, ticks float64) (float64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("invalid /proc stat line %q: no ')' after the command name", stat)
	}
	// After ')' come field 3 (state) onwards, so utime is the 12th.
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("invalid /proc stat line %q: %d fields after the command name, want at least 13", stat, len(fields))
	}
	utime, err := strconv.ParseUint(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid utime in /proc stat line: %w", err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid stime in /proc stat line: %w", err)
	}
	return float64(utime+stime) / ticks, nil
}

// procPeakRSS returns the peak resident set size (VmHWM) of process pid in bytes.
func procPeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot read the memory use of process %d: %w", pid, err)
	}
	return parseStatusKB(data, "VmHWM")
}

// parseStatusKB returns the value of a "Key:   123 kB" line of
// /proc/PID/status in bytes.
func parseStatusKB(status []byte, key string) (int64, error) {
	lines := bufio.NewScanner(bytes.NewReader(status))
	for lines.Scan() {
		name, rest, ok := strings.Cut(lines.Text(), ":")
		if !ok || name != key {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("invalid %s line %q in /proc status: want a number and kB", key, lines.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid %s line %q in /proc status: %w", key, lines.Text(), err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s line in /proc status", key)
}

// machine describes the host a bench ran on.
type machine struct {
	CPUs        int      `json:"cpus"`
	Model       string   `json:"cpu_model"`
	MemoryBytes int64    `json:"memory_bytes"`
	LoadBefore  string   `json:"load_average_before"`
	LoadAfter   string   `json:"load_average_after"`
	Kernel      string   `json:"kernel"`
	GoVersion   string   `json:"go_version"`
	Java        []string `json:"java_version"`
}

// describeMachine reads the CPU count, CPU model, memory and load average.
// Missing values stay empty: they describe the run and do not stop it.
func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadAverage()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.Model = strings.TrimSpace(value)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryBytes, _ = parseStatusKB(data, "MemTotal")
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		m.Java = strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	return m
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return ""
	}
	return strings.Join(fields[:3], " ")
}

// diskUsage returns the disk space allocated to the regular files under
// dir, as du counts it. Kafka preallocates sparse index files, whose
// apparent size is far larger.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// A running broker deletes the files of removed topics while the
		// walk goes on: a file or directory that is gone counts as empty.
		if errors.Is(err, fs.ErrNotExist) && path != dir {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512 // st_blocks counts 512-byte units
			} else {
				total += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot measure the size of %s: %w", dir, err)
	}
	return total, nil
}
