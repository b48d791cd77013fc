package format

import (
	"fmt"
	"strconv"
	"time"
)

// defaultTime is START_TIME's format without an argument.
const defaultTime = "%Y-%m-%dT%H:%M:%E3SZ"

// timeField is one strftime conversion.
type timeField uint8

const (
	tLiteral    timeField = iota
	tYear                 // %Y
	tYear2                // %y
	tMonth                // %m
	tMonthName            // %b
	tDay                  // %d
	tWeekday              // %a
	tYearDay              // %j
	tHour                 // %H
	tMinute               // %M
	tSecond               // %S
	tSecondFrac           // %E<n>S: seconds with n decimals
	tFrac                 // %<n>f, %f: n digits of the second's fraction (9 for %f)
	tEpoch                // %s
	tZone                 // %z
	tZoneName             // %Z
)

// timePart is a literal or one conversion with its digits.
type timePart struct {
	field  timeField
	lit    string
	digits int
}

// parseTime compiles a strftime format for START_TIME: the conversions
// Envoy's documentation shows (%Y %y %m %b %d %a %j %H %M %S %s %z %Z, %E<n>S
// and %<n>f) and %%. Others are errors.
func parseTime(s string, given bool) ([]timePart, error) {
	if !given || s == "" {
		s = defaultTime
	}
	var out []timePart
	lit := []byte{}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			lit = append(lit, s[i])
			continue
		}
		f, digits, n, err := timeConversion(s[i+1:])
		if err != nil {
			return nil, err
		}
		i += n
		if f == tLiteral {
			lit = append(lit, '%')
			continue
		}
		if len(lit) > 0 {
			out = append(out, timePart{lit: string(lit)})
			lit = lit[:0]
		}
		out = append(out, timePart{field: f, digits: digits})
	}
	if len(lit) > 0 {
		out = append(out, timePart{lit: string(lit)})
	}
	return out, nil
}

var simpleConversions = map[byte]timeField{'Y': tYear, 'y': tYear2, 'm': tMonth, 'b': tMonthName, 'd': tDay,
	'a': tWeekday, 'j': tYearDay, 'H': tHour, 'M': tMinute, 'S': tSecond, 's': tEpoch, 'z': tZone, 'Z': tZoneName,
	'%': tLiteral}

// timeConversion reads the conversion after a '%' in s: its field, its
// digits and how many bytes it took.
func timeConversion(s string) (timeField, int, int, error) {
	if f, ok := simpleConversions[s[0]]; ok {
		return f, 0, 1, nil
	}
	switch {
	case s[0] == 'f':
		return tFrac, 9, 1, nil
	case len(s) >= 2 && s[0] >= '1' && s[0] <= '9' && s[1] == 'f':
		return tFrac, int(s[0] - '0'), 2, nil
	case len(s) >= 3 && s[0] == 'E' && s[1] >= '1' && s[1] <= '9' && s[2] == 'S':
		return tSecondFrac, int(s[1] - '0'), 3, nil
	}
	return 0, 0, 0, fmt.Errorf("START_TIME: conversion %%%c is not supported", s[0])
}

// appendTime appends t as layout says.
func appendTime(dst []byte, layout []timePart, t time.Time) []byte {
	for _, p := range layout {
		switch p.field {
		case tLiteral:
			dst = append(dst, p.lit...)
		case tYear:
			dst = appendInt(dst, t.Year(), 4)
		case tYear2:
			dst = appendInt(dst, t.Year()%100, 2)
		case tMonth:
			dst = appendInt(dst, int(t.Month()), 2)
		case tMonthName:
			dst = append(dst, t.Month().String()[:3]...)
		case tDay:
			dst = appendInt(dst, t.Day(), 2)
		case tWeekday:
			dst = append(dst, t.Weekday().String()[:3]...)
		case tYearDay:
			dst = appendInt(dst, t.YearDay(), 3)
		case tHour:
			dst = appendInt(dst, t.Hour(), 2)
		case tMinute:
			dst = appendInt(dst, t.Minute(), 2)
		case tSecond:
			dst = appendInt(dst, t.Second(), 2)
		case tSecondFrac:
			dst = appendInt(dst, t.Second(), 2)
			dst = append(dst, '.')
			dst = appendFrac(dst, t.Nanosecond(), p.digits)
		case tFrac:
			dst = appendFrac(dst, t.Nanosecond(), p.digits)
		case tEpoch:
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		case tZone:
			dst = t.AppendFormat(dst, "-0700")
		case tZoneName:
			dst = t.AppendFormat(dst, "MST")
		}
	}
	return dst
}

// appendInt appends v zero-padded to width digits.
func appendInt(dst []byte, v, width int) []byte {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendFrac appends the first digits digits of ns nanoseconds.
func appendFrac(dst []byte, ns, digits int) []byte {
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(dst, buf[:digits]...)
}
