package stats

import "strings"

// tokenExtractor is Envoy's TagExtractorTokensImpl: a dotted pattern whose
// "$" token is the tag's value, "*" any one token and "**" one or more
// (Envoy's search needs a token for a trailing "**", so "cluster.$.**"
// does not match "cluster.web").
type tokenExtractor struct {
	base
	tokens []string
	match  int // index of "$" in tokens
}

func newTokenExtractor(name, pattern string) *tokenExtractor {
	e := &tokenExtractor{base: base{name: name}, tokens: strings.Split(pattern, ".")}
	for i, t := range e.tokens {
		if t == "$" {
			e.match = i
			break
		}
	}
	if first := e.tokens[0]; first != "$" && first != "*" && first != "**" {
		e.prefix = first
	}
	return e
}

// extract cuts the value's token and the dot after it, or, for the last
// token, the dot before it.
func (e *tokenExtractor) extract(c *extraction) bool {
	in := c.split()
	start, at, ok := e.search(in, 0, 0, 0)
	if !ok {
		return false
	}
	value := in[at]
	end := start + len(value)
	if at < len(in)-1 {
		end++
	} else if start > 0 {
		start--
	}
	c.add(e.name, value, start, end)
	return true
}

// search matches e.tokens from pattern index p against in from index i,
// where in[i] starts at byte offset pos of the name; it returns the byte
// offset and index of the token "$" took. It is Envoy's searchTags.
func (e *tokenExtractor) search(in []string, i, p, pos int) (start, at int, ok bool) {
	for ; i < len(in) && p < len(e.tokens); i, p = i+1, p+1 {
		if p == e.match {
			start, at = pos, i
			pos += len(in[i]) + 1
			continue
		}
		want := e.tokens[p]
		if want == "**" {
			if p == len(e.tokens)-1 {
				return start, at, true
			}
			for ; i < len(in); i++ {
				if s, a, ok := e.search(in, i, p+1, pos); ok {
					if p+1 <= e.match {
						return s, a, true
					}
					return start, at, true
				}
				pos += len(in[i]) + 1
			}
			return 0, 0, false
		}
		if want != "*" && want != in[i] {
			return 0, 0, false
		}
		pos += len(in[i]) + 1
	}
	return start, at, p == len(e.tokens) && i == len(in)
}
