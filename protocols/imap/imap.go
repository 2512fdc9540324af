// Package imap holds what the IMAP server and client share: the command and
// response grammar of IMAP4rev1 (RFC 3501) with the extensions the lab
// speaks, sequence sets, search keys and fetch items.
//
// # Standards
//
// RFC 3501 (IMAP4rev1), RFC 9051 (IMAP4rev2, for comparison), RFC 7888
// (LITERAL+), RFC 2177 (IDLE), RFC 4315 (UIDPLUS), RFC 6851 (MOVE), RFC 2342
// (NAMESPACE), RFC 5161 (ENABLE), RFC 2971 (ID), RFC 5530 (response codes,
// PRIVACYREQUIRED among them).
package imap

import "time"

// SearchOp is the kind of one SEARCH key (RFC 3501 section 6.4.4).
type SearchOp int

const (
	SearchAll        SearchOp = iota + 1 // ALL
	SearchSeqSet                         // a sequence set: Set
	SearchUIDSet                         // UID <set>: Set
	SearchFlag                           // ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, RECENT, NEW (Flag, and Not for UN-), KEYWORD/UNKEYWORD (Flag)
	SearchNew                            // NEW: RECENT and not SEEN
	SearchOld                            // OLD: not RECENT
	SearchHeader                         // HEADER field string; also BCC, CC, FROM, SUBJECT, TO (Field set to that name)
	SearchBody                           // BODY string
	SearchText                           // TEXT string
	SearchBefore                         // BEFORE date (internal date): Date
	SearchOn                             // ON date
	SearchSince                          // SINCE date
	SearchSentBefore                     // SENTBEFORE date (Date: header)
	SearchSentOn                         // SENTON date
	SearchSentSince                      // SENTSINCE date
	SearchLarger                         // LARGER n: Size
	SearchSmaller                        // SMALLER n: Size
	SearchNot                            // NOT key: Keys[0]
	SearchOr                             // OR key1 key2: Keys[0], Keys[1]
	SearchAnd                            // a parenthesised list, or the top level: Keys
)

// SearchKey is one node of a parsed SEARCH criteria tree. Which fields are
// used depends on Op (see the constants).
type SearchKey struct {
	Op    SearchOp
	Not   bool   // for SearchFlag: UNANSWERED, UNDELETED, UNDRAFT, UNFLAGGED, UNSEEN, UNKEYWORD
	Flag  string // for SearchFlag: `\Answered`, `\Deleted`, `\Draft`, `\Flagged`, `\Seen`, `\Recent`, or a keyword
	Field string // for SearchHeader: the header field name
	Value string // the string to find (case-insensitive substring, RFC 3501 section 6.4.4)
	Date  time.Time
	Size  int64
	Set   SeqSet
	Keys  []SearchKey
}

// SeqRange is one element of a sequence set; 0 stands for "*" (the largest
// number in use).
type SeqRange struct{ Start, Stop uint32 }

// SeqSet is a sequence set or UID set, e.g. "1:4,7,9:*" (RFC 3501 section 9,
// sequence-set).
type SeqSet []SeqRange
