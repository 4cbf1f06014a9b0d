package export

// SetCommitHook sets the hook called after each step of a sharded write that changes
// a final name, for the tests of package export_test, and returns a function that
// unsets it.
func SetCommitHook(f func(path string) error) func() {
	commitHook = f
	return func() { commitHook = nil }
}
