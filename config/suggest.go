package config

// Suggest returns the word of known closest to s when it is close enough
// to be a typo of it, else "". Other packages use it so every "did you
// mean" in rebuild agrees.
func Suggest(s string, known []string) string { return suggest(s, known) }
