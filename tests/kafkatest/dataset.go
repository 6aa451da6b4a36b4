package kafkatest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// CorpusPath returns the path of the real captured events, which sit in the
// shared data folder beside the repository checkout. CORPUS_PATH overrides it.
func CorpusPath() string {
	if p := os.Getenv("CORPUS_PATH"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	return filepath.Join(root, "..", "shared", "data", "posthog_captured_events.jsonl")
}

// LoadCorpus reads one JSON event per line.
func LoadCorpus(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the event corpus: %w; set CORPUS_PATH to a JSON-lines file of captured events", err)
	}
	defer f.Close()
	var events [][]byte
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) > 0 {
			events = append(events, bytes.Clone(line))
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("cannot read the event corpus %s: %w", path, err)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("the event corpus %s is empty", path)
	}
	return events, nil
}

// Kind is how a generated message relates to the others.
type Kind string

// Kinds of generated messages. Exact repeats and new-uuid copies are
// duplicates; near copies differ in timestamp or event name and are unique.
const (
	KindOriginal    Kind = "original"     // a corpus event or a synthetic copy with a new distinct_id
	KindExactRepeat Kind = "exact_repeat" // same value as an earlier message, other headers
	KindNewUUID     Kind = "new_uuid"     // an earlier event with a fresh uuid
	KindNearTime    Kind = "near_time"    // an earlier event 1 ms later
	KindNearEvent   Kind = "near_event"   // an earlier event under another event name
	KindUndecodable Kind = "undecodable"  // a value that is not a valid event
)

// Options shape a generated stream.
type Options struct {
	// Rounds is how many times the corpus is emitted. Round 0 is the corpus
	// byte for byte. Later rounds append "-r{round}" to every distinct_id and
	// draw new uuids, so each round adds new unique events.
	Rounds int
	// DuplicateRate is the chance, after each original, of also emitting a
	// derived message (exact repeat, new uuid, near time or near event) of a
	// random earlier original.
	DuplicateRate float64
	// Undecodable is how many invalid values are mixed in.
	Undecodable int
	// Seed makes the stream reproducible.
	Seed uint64
	// Run is written into a header of every message so streams of different
	// runs never compare equal by accident.
	Run string
}

// Generated is one message and how it was made.
type Generated struct {
	Message kafka.Message
	Kind    Kind
}

// Generate builds a stream from the corpus. Kafka keys are
// "token:distinct_id", so all copies of an event share a partition, and each
// message carries the headers "run" and "seq".
func Generate(corpus [][]byte, opts Options) ([]Generated, error) {
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	// Record timestamps start now: the broker deletes records older than its
	// retention, and the end-to-end latency counts from them.
	base := time.Now().Truncate(time.Millisecond)
	var out []Generated
	var originals []int // indexes into out

	emit := func(value []byte, kind Kind) error {
		key, err := kafkaKey(value)
		if err != nil && kind != KindUndecodable {
			return err
		}
		seq := len(out)
		out = append(out, Generated{Kind: kind, Message: kafka.Message{
			Key:   key,
			Value: value,
			Headers: []kafka.Header{
				{Key: "run", Value: []byte(opts.Run)},
				{Key: "seq", Value: []byte(strconv.Itoa(seq))},
			},
			Time: base.Add(time.Duration(seq) * time.Millisecond),
		}})
		return nil
	}

	undecodable := undecodableValues()
	undecodableAt := map[int]bool{}
	total := opts.Rounds * len(corpus)
	for i := 0; i < opts.Undecodable; i++ {
		undecodableAt[rng.IntN(max(total, 1))] = true
	}
	undecodableLeft := opts.Undecodable

	for round := 0; round < opts.Rounds; round++ {
		for i, event := range corpus {
			value := event
			if round > 0 {
				var err error
				if value, err = rewriteEvent(event, rng, func(e map[string]any, data map[string]any) {
					suffix := "-r" + strconv.Itoa(round)
					appendToString(e, "distinct_id", suffix)
					appendToString(data, "distinct_id", suffix)
				}); err != nil {
					return nil, fmt.Errorf("corpus line %d: %w", i+1, err)
				}
			}
			if err := emit(value, KindOriginal); err != nil {
				return nil, err
			}
			originals = append(originals, len(out)-1)

			if undecodableAt[round*len(corpus)+i] && undecodableLeft > 0 {
				undecodableLeft--
				if err := emit(undecodable[undecodableLeft%len(undecodable)], KindUndecodable); err != nil {
					return nil, err
				}
			}
			if rng.Float64() >= opts.DuplicateRate {
				continue
			}
			source := out[originals[rng.IntN(len(originals))]].Message.Value
			kind, derived, err := deriveCopy(source, rng)
			if err != nil {
				return nil, err
			}
			if err := emit(derived, kind); err != nil {
				return nil, err
			}
		}
	}
	for ; undecodableLeft > 0; undecodableLeft-- {
		if err := emit(undecodable[undecodableLeft%len(undecodable)], KindUndecodable); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Messages returns the Kafka messages of a generated stream.
func Messages(stream []Generated) []kafka.Message {
	msgs := make([]kafka.Message, len(stream))
	for i, g := range stream {
		msgs[i] = g.Message
	}
	return msgs
}

func undecodableValues() [][]byte {
	return [][]byte{
		[]byte("not json at all"),
		[]byte(`{"uuid":"u","distinct_id":"d","token":"t","data":"{not json"}`),
		[]byte(`{"uuid":"u","distinct_id":"d","token":"t","data":"{\"properties\":{}}"}`),
		[]byte(`[1,2,3]`),
		{},
	}
}

// deriveCopy makes a duplicate or a near copy of an event value.
func deriveCopy(value []byte, rng *rand.Rand) (Kind, []byte, error) {
	switch rng.IntN(4) {
	case 0:
		return KindExactRepeat, value, nil
	case 1:
		copied, err := rewriteEvent(value, rng, func(map[string]any, map[string]any) {})
		return KindNewUUID, copied, err
	case 2:
		copied, err := rewriteEvent(value, rng, func(_ map[string]any, data map[string]any) {
			shiftTimestamp(data, time.Millisecond)
		})
		return KindNearTime, copied, err
	default:
		copied, err := rewriteEvent(value, rng, func(_ map[string]any, data map[string]any) {
			if name, ok := data["event"].(string); ok {
				data["event"] = name + " (variant)"
			}
		})
		return KindNearEvent, copied, err
	}
}

// rewriteEvent decodes an event and its data payload, gives both a fresh
// uuid, applies edit and encodes the result.
func rewriteEvent(value []byte, rng *rand.Rand, edit func(event, data map[string]any)) ([]byte, error) {
	var event map[string]any
	decoder := json.NewDecoder(bytes.NewReader(value))
	decoder.UseNumber()
	if err := decoder.Decode(&event); err != nil {
		return nil, fmt.Errorf("cannot decode event: %w", err)
	}
	dataText, ok := event["data"].(string)
	if !ok {
		return nil, fmt.Errorf("event has no data string")
	}
	var data map[string]any
	decoder = json.NewDecoder(bytes.NewReader([]byte(dataText)))
	decoder.UseNumber()
	if err := decoder.Decode(&data); err != nil {
		return nil, fmt.Errorf("cannot decode event data: %w", err)
	}

	uuid := newUUID(rng)
	event["uuid"] = uuid
	if _, ok := data["uuid"]; ok {
		data["uuid"] = uuid
	}
	edit(event, data)

	encodedData, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	event["data"] = string(encodedData)
	return json.Marshal(event)
}

// shiftTimestamp moves the event time by d: data.timestamp when present,
// else the offset before sent_at.
func shiftTimestamp(data map[string]any, d time.Duration) {
	if ts, ok := data["timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			data["timestamp"] = t.Add(d).UTC().Format("2006-01-02T15:04:05.000Z07:00")
			return
		}
	}
	if offset, ok := data["offset"].(json.Number); ok {
		if ms, err := offset.Int64(); err == nil {
			data["offset"] = json.Number(strconv.FormatInt(ms-d.Milliseconds(), 10))
		}
	}
}

func appendToString(m map[string]any, key, suffix string) {
	if s, ok := m[key].(string); ok {
		m[key] = s + suffix
	}
}

func newUUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// kafkaKey returns "token:distinct_id" of an event.
func kafkaKey(value []byte) ([]byte, error) {
	var event struct {
		Token      string          `json:"token"`
		DistinctID json.RawMessage `json:"distinct_id"`
	}
	if err := json.Unmarshal(value, &event); err != nil {
		return nil, fmt.Errorf("cannot decode event for its Kafka key: %w", err)
	}
	id := string(event.DistinctID)
	if s, err := strconv.Unquote(id); err == nil {
		id = s
	}
	return []byte(event.Token + ":" + id), nil
}
