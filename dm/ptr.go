package dm

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func boolPtr(b bool) *bool { return &b }

func strPtr(s string) *string { return &s }

func int64Ptr(v int64) *int64 { return &v }

func intPtr(v int) *int { return &v }

func derefStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
func float64Ptr(v float64) *float64 { return &v }
