package stages

// rawDecoder keys each message on its whole value, byte for byte. The key
// text is the value itself, without escaping, because it is the only part.
type rawDecoder struct{}

func (rawDecoder) Decode(value []byte, d *Decoded) error {
	d.reset()
	if len(value) == 0 {
		return newDecodeErrorText(ReasonEmptyValue, "the value is empty")
	}
	d.key = append(d.key, value...)
	return nil
}
