package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tableHeader names the columns of the results table.
var tableHeader = []string{
	"run", "events", "window s", "events/s", "vs b", "CPU s / 1M events", "peak RSS MiB", "broker CPU s", "p50 e2e", "p99 e2e", "output (expected)",
}

// tableRows renders the results as table rows, one per measured run.
func tableRows(res *results) [][]string {
	var rows [][]string
	if p := res.ProducerPerf; p != nil {
		rows = append(rows, []string{
			fmt.Sprintf("a. ProducerPerformance, %d B records", p.RecordBytes),
			fmt.Sprint(p.Records), fmt.Sprintf("%.1f", float64(p.Records)/p.RecordsPerSec), fmt.Sprintf("%.0f", p.RecordsPerSec), "",
			fmt.Sprintf("%.1f (JVM)", p.CPUSeconds/float64(p.Records)*1e6), "", fmt.Sprintf("%.1f", p.BrokerCPUSeconds),
			fmt.Sprintf("%.0f ms", p.P50LatencyMs), fmt.Sprintf("%.0f ms", p.P99LatencyMs), "",
		})
	}
	if c := res.ConsumerPerf; c != nil {
		rows = append(rows, []string{
			"a. ConsumerPerformance, input topic",
			fmt.Sprint(c.Messages), fmt.Sprintf("%.1f", c.FetchMs/1000), fmt.Sprintf("%.0f", c.FetchMessagesPerSec), "",
			fmt.Sprintf("%.1f (JVM)", c.CPUSeconds/float64(c.Messages)*1e6), "", fmt.Sprintf("%.1f", c.BrokerCPUSeconds),
			"", "", "",
		})
	}
	for _, r := range res.Runs {
		vs := ""
		if r.RatioToPassThrough > 0 {
			vs = fmt.Sprintf("%.2f", r.RatioToPassThrough)
		}
		rows = append(rows, []string{
			r.Name, fmt.Sprint(r.Events), fmt.Sprintf("%.1f", r.Seconds), fmt.Sprintf("%.0f", r.EventsPerSecond), vs,
			fmt.Sprintf("%.1f", r.CPUSecondsPerMillion), fmt.Sprintf("%.0f", float64(r.PeakRSSBytes)/(1<<20)),
			fmt.Sprintf("%.1f", r.BrokerCPUSeconds),
			formatSeconds(r.LatencyP50), formatSeconds(r.LatencyP99),
			fmt.Sprintf("%d (%d)", r.GotOutput, r.WantOutput),
		})
	}
	return rows
}

// formatSeconds prints a latency in ms below 1 s and in s above.
func formatSeconds(s float64) string {
	if s == 0 {
		return ""
	}
	if s < 1 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}

// printReport prints the input summary, the table and the checks.
func printReport(w io.Writer, res *results) {
	fmt.Fprintf(w, "\n== results (%s, wall time %.0fs)\n", res.ResultsDir, res.WallSeconds)
	fmt.Fprintf(w, "machine: %d CPUs, %s; load average before %s, after %s\n",
		res.Machine.CPUs, res.Machine.Model, res.Machine.LoadBefore, res.Machine.LoadAfter)
	if l := res.Load; l != nil {
		fmt.Fprintf(w, "input: %d events (%d unique, %.0f B average value) in %d partitions, written in %.1fs\n",
			l.Events, l.Unique, l.AvgValueBytes, l.Partitions, l.Seconds)
	}
	if p := res.Prefill; p != nil {
		fmt.Fprintf(w, "prefill: %d keys in %.1fs (%.0f keys/s), %.0f MiB on disk\n",
			p.Keys, p.Seconds, p.KeysPerS, float64(p.SizeBytes)/(1<<20))
	}
	fmt.Fprintln(w)
	writeAligned(w, append([][]string{tableHeader}, tableRows(res)...))
	fmt.Fprintln(w)
	for _, r := range res.Runs {
		fmt.Fprintf(w, "%s: %s; %.0f events/s to the last output ack; startup %.1fs", r.ID, r.OutputCheck, r.EventsPerSecondToAck, r.StartupSeconds)
		if r.BacklogAgeSeconds > 0 {
			fmt.Fprintf(w, "; the input was %.0fs old at the first fetch, which the e2e latency includes", r.BacklogAgeSeconds)
		}
		if r.FeedRate > 0 {
			fmt.Fprintf(w, "; fed at %.0f events/s, last ack %.1fs after the last write", r.FeedRate, r.BehindSeconds)
			if r.BehindSeconds > 2 {
				fmt.Fprint(w, " (it fell behind, so the latency includes queueing: lower -latency-rate)")
			}
		}
		fmt.Fprintln(w)
	}
	if res.BrokerDataBytes > 1<<30 {
		fmt.Fprintf(w, "\nThe broker's data directory %s holds %.1f GiB, deleted topics included; its next start wipes it.\n",
			filepath.Dir(res.Options["broker_pid_file"]), float64(res.BrokerDataBytes)/(1<<30))
	}
	if res.Error != "" {
		fmt.Fprintf(w, "\nFAILED: %s\n", res.Error)
	}
}

// writeAligned prints rows as space-aligned columns.
func writeAligned(w io.Writer, rows [][]string) {
	widths := make([]int, len(tableHeader))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", widths[i], cell)
			} else {
				fmt.Fprintf(&b, "  %*s", widths[i], cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// markdownTable renders rows as a Markdown table.
func markdownTable(rows [][]string) string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	line(tableHeader)
	sep := make([]string, len(tableHeader))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = "---"
	line(sep)
	for _, row := range rows {
		line(row)
	}
	return b.String()
}

// writeResults writes results.json and results.md into the results directory.
func writeResults(res *results) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode the results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(res.ResultsDir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write the results: %w", err)
	}
	md := markdownTable(tableRows(res))
	if err := os.WriteFile(filepath.Join(res.ResultsDir, "results.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("cannot write the results: %w", err)
	}
	fmt.Printf("\nraw numbers: %s\n", filepath.Join(res.ResultsDir, "results.json"))
	return nil
}

// humanCount prints 10000000 as "10M" and 1500000 as "1.5M".
func humanCount(n int64) string {
	switch {
	case n >= 1_000_000:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), "0"), ".") + "M"
	case n >= 1_000:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e3), "0"), ".") + "k"
	default:
		return fmt.Sprint(n)
	}
}
