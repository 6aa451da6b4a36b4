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
// The JSON scanner behind the captured_event and json formats accepts the
// same documents as encoding/json and decodes strings the same way. The
// tests compare it with encoding/json on the real events and in FuzzDecode.
package stages
