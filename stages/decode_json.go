package stages

import (
	"fmt"
	"strings"
)

// jsonDecoder keys a JSON object on the texts of configured member paths,
// joined with ':' as described on appendKeyPart. A string gives its decoded
// content (the empty string is a valid part), any other value its JSON text,
// and a missing or null member makes the value undecodable (ReasonMissingKey).
// A path goes through nested objects only, never into arrays.
type jsonDecoder struct {
	// paths are the key fields split at their dots.
	paths [][]string
	// topNames are the distinct first segments, which one scan of the
	// top-level object finds together. topIndex maps each path to its entry.
	topNames []string
	topIndex []int
}

func newJSONDecoder(fields []string) (*jsonDecoder, error) {
	if len(fields) == 0 {
		return nil, errNoKeyFields
	}
	dec := &jsonDecoder{}
	for _, field := range fields {
		segments := strings.Split(field, ".")
		for _, segment := range segments {
			if segment == "" {
				return nil, fmt.Errorf("key field %q has an empty path segment; write member names separated by single dots, such as \"user.id\"", field)
			}
		}
		dec.paths = append(dec.paths, segments)

		index := -1
		for k, name := range dec.topNames {
			if name == segments[0] {
				index = k
			}
		}
		if index < 0 {
			index = len(dec.topNames)
			dec.topNames = append(dec.topNames, segments[0])
		}
		dec.topIndex = append(dec.topIndex, index)
	}
	return dec, nil
}

func (j *jsonDecoder) Decode(value []byte, d *Decoded) error {
	d.reset()
	if len(value) == 0 {
		return newDecodeErrorText(ReasonEmptyValue, "the value is empty")
	}

	// One scan validates the whole value and finds every first segment.
	if cap(d.jsonSpans) < len(j.topNames) {
		d.jsonSpans = make([]span, len(j.topNames))
	}
	top := d.jsonSpans[:len(j.topNames)]
	clear(top)
	if err := scanDocument(value, &memberFinder{names: j.topNames, spans: top}); err != nil {
		return newDecodeError(ReasonInvalidJSON, err)
	}

	for k, path := range j.paths {
		// Walk down the nested objects; they were validated above.
		s := top[j.topIndex[k]]
		for level := 1; level < len(path); level++ {
			if !s.found() || value[s.start] != '{' {
				s = span{}
				break
			}
			d.nested[0] = span{}
			finder := memberFinder{names: path[level : level+1], spans: d.nested[:]}
			if _, err := scanObject(value, s.start, 1, &finder); err != nil {
				panic(fmt.Sprintf("BUG: a validated object failed a second scan: %v", err))
			}
			s = d.nested[0]
		}

		text, ok := valueText(value, s, &d.scratch)
		if !ok {
			return newDecodeError(ReasonMissingKey,
				fmt.Errorf("key field %q is missing or null", strings.Join(path, ".")))
		}
		if k > 0 {
			d.key = append(d.key, keySeparator)
		}
		d.key = appendKeyPart(d.key, text)
	}
	return nil
}
