package smtpclient

// Reply is one complete server reply, possibly multi-line.
type Reply struct {
	Code     int      // e.g. 250
	Enhanced string   // e.g. "2.1.0"; "" when the server sent none
	Lines    []string // the text of each line, code and enhanced code removed
}
