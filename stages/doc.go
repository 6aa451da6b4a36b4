// Package stages contains the per-message work of the deduplicator that needs
// neither Kafka nor RocksDB, so it can be tested on its own.
//
// The decode stage turns a message value into a Decoded with a Decoder from
// NewDecoder. Three formats exist: captured_event (the capture service's
// envelope, keyed on timestamp, distinct_id, token and event name),
// json (keyed on configured member paths) and raw (keyed on the whole value).
// A value that cannot be decoded yields a *DecodeError whose Reason names the
// cause; the pipeline forwards such messages unchanged and counts them.
//
// The key stage, Decoded.Digest, hashes the key text into a 128-bit Digest,
// which is what the store keeps. The key text layout and the hash are part
// of the store's on-disk format (see Digest).
//
// The JSON scanner decodes strings the same way as encoding/json. The json
// format validates the whole value as strictly as encoding/json does. The
// captured_event format, for speed, validates that strictly only the
// structure of the outer object and of the data object (member names, colons,
// commas) and the values that the key reads. It skips every other value,
// data.properties above all, checking only that its strings end and its
// brackets balance, so a member is never taken from inside a string or a
// nested value. As a consequence, a captured event whose JSON is malformed
// only inside such a skipped value is keyed like the same event without that
// value, where encoding/json would reject it. Examples are a control
// character in a property string or a number such as 01. Such a message is
// forwarded either way, because the pipeline also forwards undecodable
// messages; the difference is that it is deduplicated.
//
// The tests compare both formats with encoding/json on the real events and
// in FuzzDecode, whose comment states exactly what it checks.
package stages
