package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"kafka-deduplicator/tests/kafkatest"
)

// kinds lists the message kinds the generator emits, in report order.
var kinds = []kafkatest.Kind{
	kafkatest.KindOriginal,
	kafkatest.KindExactRepeat,
	kafkatest.KindNewUUID,
	kafkatest.KindNearTime,
	kafkatest.KindNearEvent,
}

// generatorOptions shape a stream.
type generatorOptions struct {
	// DuplicateRate is the share of messages that are duplicates of a recent
	// original: half exact repeats, half copies with a new uuid.
	DuplicateRate float64
	// NearRate is the share of messages that are near copies of a recent
	// original, which are unique: half 1 ms later (1 s for times without
	// milliseconds), half under another event name.
	NearRate float64
	// Window is how many of the latest originals a copy is drawn from.
	Window int
	// Seed makes the stream reproducible together with Start.
	Seed uint64
	// Start is the receive time of the first round; round r is r ms later.
	Start time.Time
}

// instance identifies one original: which corpus event, which round and
// which uuid. Its copies are rendered from it again.
type instance struct {
	template int32
	round    uint32
	uuid     [16]byte
}

// generator emits an endless stream of captured events built from the
// corpus templates. Originals walk through the corpus round after round.
// Every round appends "-{round in base 36}" to the distinct ids, moves the
// receive time to Start plus round ms and draws fresh uuids. So any number
// of originals is possible, and the corpus's own duplicates repeat in every
// round. A generator is not safe for concurrent use.
type generator struct {
	templates []*template
	opts      generatorOptions
	rng       *rand.Rand

	next   uint64     // index of the next original: round*len(templates) + template
	recent []instance // ring of the latest originals
	filled int        // entries of recent in use
	pos    int        // where the next original goes in recent

	// Scratch buffers reused for every message.
	distinctID []byte
	uuidText   [36]byte
}

func newGenerator(templates []*template, opts generatorOptions) (*generator, error) {
	if len(templates) == 0 {
		return nil, fmt.Errorf("cannot generate events: the corpus has no usable event")
	}
	if opts.DuplicateRate < 0 || opts.NearRate < 0 || opts.DuplicateRate+opts.NearRate >= 1 {
		return nil, fmt.Errorf("invalid rates: duplicate rate %v and near rate %v must be non-negative with a sum below 1", opts.DuplicateRate, opts.NearRate)
	}
	if opts.Window < 1 {
		return nil, fmt.Errorf("invalid window %d: copies need at least 1 recent original to draw from", opts.Window)
	}
	return &generator{
		templates: templates,
		opts:      opts,
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x6a09e667f3bcc909)),
		recent:    make([]instance, opts.Window),
	}, nil
}

// message appends the next message's Kafka key ("token:distinct_id") and
// then its value to arena. It returns the grown arena and the message, whose
// key and value point into it.
func (g *generator) message(arena []byte) ([]byte, generated) {
	draw := g.rng.Float64()
	switch {
	case g.filled > 0 && draw < g.opts.DuplicateRate:
		in := g.recent[g.rng.IntN(g.filled)]
		if g.rng.IntN(2) == 0 {
			return g.render(arena, in, 0, false, kafkatest.KindExactRepeat)
		}
		g.fillUUID(&in.uuid)
		return g.render(arena, in, 0, false, kafkatest.KindNewUUID)
	case g.filled > 0 && draw < g.opts.DuplicateRate+g.opts.NearRate:
		in := g.recent[g.rng.IntN(g.filled)]
		g.fillUUID(&in.uuid)
		t := g.templates[in.template]
		if g.rng.IntN(2) == 0 || !t.hasEvent {
			return g.render(arena, in, t.nearShift, false, kafkatest.KindNearTime)
		}
		return g.render(arena, in, 0, true, kafkatest.KindNearEvent)
	}

	in := instance{
		template: int32(g.next % uint64(len(g.templates))),
		round:    uint32(g.next / uint64(len(g.templates))),
	}
	g.next++
	g.fillUUID(&in.uuid)
	g.recent[g.pos] = in
	g.pos = (g.pos + 1) % len(g.recent)
	g.filled = min(g.filled+1, len(g.recent))
	return g.render(arena, in, 0, false, kafkatest.KindOriginal)
}

// generated is one message of the stream.
type generated struct {
	key, value []byte
	kind       kafkatest.Kind
}

// render appends the Kafka key and the value of in to arena. extraShift
// moves the event's times further (near-time copies).
func (g *generator) render(arena []byte, in instance, extraShift time.Duration, eventVariant bool, kind kafkatest.Kind) ([]byte, generated) {
	t := g.templates[in.template]
	g.distinctID = append(g.distinctID[:0], t.distinctID...)
	g.distinctID = append(g.distinctID, '-')
	g.distinctID = strconv.AppendUint(g.distinctID, uint64(in.round), 36)
	formatUUID(&g.uuidText, in.uuid)

	keyStart := len(arena)
	arena = append(arena, t.token...)
	arena = append(arena, ':')
	arena = append(arena, g.distinctID...)
	valueStart := len(arena)
	receive := g.opts.Start.Add(time.Duration(in.round) * time.Millisecond)
	arena = t.render(arena, fields{
		distinctID:   g.distinctID,
		uuid:         g.uuidText[:],
		shift:        receive.Sub(t.ref) + extraShift,
		eventVariant: eventVariant,
	})
	// Full slice expressions keep a later append to one from overwriting the other.
	return arena, generated{
		key:   arena[keyStart:valueStart:valueStart],
		value: arena[valueStart:len(arena):len(arena)],
		kind:  kind,
	}
}

// fillUUID draws a version 7 uuid: the 48-bit Unix millisecond time of the
// generator's start, then random bits.
func (g *generator) fillUUID(u *[16]byte) {
	ms := uint64(g.opts.Start.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16|g.rng.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:16], g.rng.Uint64())
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
}

// formatUUID writes u in the canonical 8-4-4-4-12 hex form.
func formatUUID(dst *[36]byte, u [16]byte) {
	hex.Encode(dst[0:8], u[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], u[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], u[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], u[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:36], u[10:16])
}
