package format

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Default is Envoy's default access log format.
const Default = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
	`%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
	`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
	`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` + "\n"

// operators are the command operators without arguments.
var operators = map[string]op{
	"PROTOCOL":                               opProtocol,
	"RESPONSE_CODE":                          opResponseCode,
	"RESPONSE_FLAGS":                         opResponseFlags,
	"BYTES_RECEIVED":                         opBytesReceived,
	"BYTES_SENT":                             opBytesSent,
	"DURATION":                               opDuration,
	"RESPONSE_DURATION":                      opResponseDuration,
	"UPSTREAM_HOST":                          opUpstreamHost,
	"UPSTREAM_CLUSTER":                       opUpstreamCluster,
	"ROUTE_NAME":                             opRouteName,
	"DOWNSTREAM_REMOTE_ADDRESS":              opRemote,
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": opRemoteNoPort,
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS":       opRemote,
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": opRemoteNoPort,
	"DOWNSTREAM_LOCAL_ADDRESS":                      opLocal,
	"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":         opLocalNoPort,
	"HOSTNAME":                                      opHostname,
	"UPSTREAM_REQUEST_ATTEMPT_COUNT":                opAttempts,
	"REQUEST_DURATION":                              opRequestDuration,
	"RESPONSE_CODE_DETAILS":                         opCodeDetails,
	"UPSTREAM_LOCAL_ADDRESS":                        opUpstreamLocal,
	"UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":           opUpstreamLocalNoPort,
	"UPSTREAM_REMOTE_ADDRESS":                       opUpstreamHost,
	"REQUESTED_SERVER_NAME":                         opServerName,
	"UPSTREAM_TRANSPORT_FAILURE_REASON":             opUpstreamFailure,
	"CONNECTION_ID":                                 opConnID,
}

// numeric are the operators whose value is a number.
var numeric = map[op]bool{opResponseCode: true, opBytesReceived: true, opBytesSent: true,
	opDuration: true, opResponseDuration: true, opAttempts: true, opRequestDuration: true, opConnID: true}

// Parse compiles s. text selects the access log rendering, where a
// missing value writes "-"; header values write nothing for one. The
// operators are START_TIME[(strftime)], REQ(h[?alt]), RESP(h[?alt]) and TRAILER(h[?alt]) (with
// an optional :N length limit), the names in the table above, and "%%"
// for a percent sign. Anything else is an error naming the operator.
func Parse(s string, text bool) (*Format, error) {
	f := &Format{text: text}
	var lit strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:i])
		s = s[i+1:]
		if strings.HasPrefix(s, "%") {
			lit.WriteByte('%')
			s = s[1:]
			continue
		}
		end := operatorEnd(s)
		if end < 0 {
			return nil, fmt.Errorf("unterminated command operator at %q", "%"+s)
		}
		p, err := parseOperator(s[:end])
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			f.parts = append(f.parts, part{op: opLiteral, lit: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, p)
		s = s[end+1:]
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, part{op: opLiteral, lit: lit.String()})
	}
	return f, nil
}

// operatorEnd returns the index of the '%' that ends the operator at the
// start of s, skipping parentheses (a START_TIME format holds '%'), or -1.
func operatorEnd(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '%':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// parseOperator compiles one operator, s without its percent signs.
func parseOperator(s string) (part, error) {
	name, arg, hasArg, rest := splitOperator(s)
	p := part{}
	if rest != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
		if !strings.HasPrefix(rest, ":") || err != nil || n <= 0 {
			return p, fmt.Errorf("%%%s%%: malformed length limit %q", s, rest)
		}
		p.max = n
	}
	switch {
	case name == "START_TIME":
		layout, err := parseTime(arg, hasArg)
		if err != nil {
			return p, fmt.Errorf("%%%s%%: %w", s, err)
		}
		p.op, p.time = opStartTime, layout
		return p, nil
	case name == "REQ" || name == "RESP" || name == "TRAILER":
		return headerOperator(p, name, arg, hasArg, s)
	case hasArg:
		return p, fmt.Errorf("%%%s%%: command operator %s takes no argument", s, name)
	}
	o, ok := operators[name]
	if !ok {
		return p, fmt.Errorf("%%%s%%: command operator %s is not supported", s, name)
	}
	p.op, p.numbered = o, numeric[o]
	if o == opHostname {
		p.lit, _ = os.Hostname()
	}
	return p, nil
}

// splitOperator splits "NAME(arg):N" into its name, argument and rest.
func splitOperator(s string) (name, arg string, hasArg bool, rest string) {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		name, rest, _ = strings.Cut(s, ":")
		if rest != "" {
			rest = ":" + rest
		}
		return name, "", false, rest
	}
	closing := strings.LastIndexByte(s, ')')
	if closing < open {
		return s, "", false, ""
	}
	return s[:open], s[open+1 : closing], true, s[closing+1:]
}

// headerOperator compiles REQ(h?alt) or RESP(h?alt).
func headerOperator(p part, name, arg string, hasArg bool, s string) (part, error) {
	if !hasArg || arg == "" {
		return p, fmt.Errorf("%%%s%%: %s needs a header name", s, name)
	}
	p.op = map[string]op{"REQ": opReq, "RESP": opResp, "TRAILER": opTrailer}[name]
	main, alt, _ := strings.Cut(arg, "?")
	p.name, p.alt = strings.ToLower(main), strings.ToLower(alt)
	return p, nil
}
