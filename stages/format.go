package stages

import (
	"errors"
	"fmt"
	"strings"
)

// Names of the message formats that NewDecoder accepts.
const (
	// FormatCapturedEvent is the capture service's event envelope; see
	// capturedEventDecoder for the key it builds.
	FormatCapturedEvent = "captured_event"
	// FormatJSON is a JSON object keyed on configured field paths.
	FormatJSON = "json"
	// FormatRaw keys each message on its whole value.
	FormatRaw = "raw"
)

// Formats lists the accepted format names, for help texts and errors.
var Formats = []string{FormatCapturedEvent, FormatJSON, FormatRaw}

// FormatConfig selects how message values are decoded into keys.
type FormatConfig struct {
	// Format is one of Formats. It has no default here; the caller's
	// configuration fills one in.
	Format string
	// KeyFields are dot-separated member paths such as "user.id", used only
	// by the json format, where at least one is required. The key joins the
	// fields' texts in this order. A member name that contains a dot cannot
	// be addressed.
	KeyFields []string
}

// NewDecoder returns the Decoder for cfg. It rejects an unknown format, a
// json format without key fields or with an empty path segment, and key
// fields given for a format that does not use them.
func NewDecoder(cfg FormatConfig) (Decoder, error) {
	switch cfg.Format {
	case FormatCapturedEvent, FormatRaw:
		if len(cfg.KeyFields) > 0 {
			return nil, fmt.Errorf("cannot create a decoder for format %q: key fields %q apply only to format %q; remove them or use format %q",
				cfg.Format, cfg.KeyFields, FormatJSON, FormatJSON)
		}
		if cfg.Format == FormatRaw {
			return rawDecoder{}, nil
		}
		return capturedEventDecoder{}, nil
	case FormatJSON:
		dec, err := newJSONDecoder(cfg.KeyFields)
		if err != nil {
			return nil, fmt.Errorf("cannot create a decoder for format %q: %w", cfg.Format, err)
		}
		return dec, nil
	default:
		return nil, fmt.Errorf("cannot create a decoder: unknown format %q; use one of %s",
			cfg.Format, strings.Join(Formats, ", "))
	}
}

// errNoKeyFields is returned for a json format without key fields.
var errNoKeyFields = errors.New("no key fields are set; list the dot-separated member paths that make the key, such as [\"user.id\", \"event\"]")
