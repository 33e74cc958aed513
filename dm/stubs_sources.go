package dm

func notImplemented(op string) error {
	return NewError(CodeNotImplemented, "%s is not implemented yet", op)
}
