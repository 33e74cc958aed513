package dbconn

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// UTCOffset is the session time zone the units use unless a task sets another.
const UTCOffset = "+00:00"

var offsetRE = regexp.MustCompile(`^([+-])(\d{2}):(\d{2})$`)

// TimeZone parses a session time zone given as a fixed offset ("+08:00"); "" is
// UTCOffset. It returns the offset text for `SET time_zone` and the matching location,
// so that a unit can render TIMESTAMP values in exactly the zone its sessions use. Only
// fixed offsets are accepted: a named zone with daylight-saving time repeats an hour,
// and two instants of that hour would be rendered as one local time.
func TimeZone(tz string) (string, *time.Location, error) {
	if tz == "" {
		tz = UTCOffset
	}
	m := offsetRE.FindStringSubmatch(tz)
	if m == nil {
		return "", nil, fmt.Errorf("time zone %q is not a fixed offset such as +08:00", tz)
	}
	h, _ := strconv.Atoi(m[2])
	mi, _ := strconv.Atoi(m[3])
	if h > 14 || mi > 59 {
		return "", nil, fmt.Errorf("time zone %q is out of range (-12:59 to +14:00)", tz)
	}
	secs := h*3600 + mi*60
	if m[1] == "-" {
		secs = -secs
	}
	if secs == 0 {
		return UTCOffset, time.UTC, nil
	}
	return tz, time.FixedZone(tz, secs), nil
}
