// Package sieve is the lab's Sieve interpreter (RFC 5228): the LDA runs a
// user's script on each message it delivers and files, forwards, refuses or
// answers the message as the script says.
//
// A script is parsed once, when the lab starts, and refused whole if it has
// a mistake:
//
//	script, err := sieve.Parse("bob.sieve", src) // err: "bob.sieve:4:12: missing ';' after keep"
//	res, err := script.Run(msg, sieve.Envelope{From: "alice@a.test", To: "bob@b.test"})
//	// err != nil: file into INBOX (res.ImplicitKeep is true) and show err.
//	// else: carry out res.Actions, then keep too if res.ImplicitKeep.
//
// A vacation action comes with Vacation.NoReply already set when RFC 5230
// forbids a reply (see ShouldAutoReply); the LDA adds the once-per-Days
// check per (Handle, sender), which needs state kept between deliveries.
//
// The language supported:
//
//   - control: require, if / elsif / else, stop;
//   - actions: keep, discard, fileinto [:copy] [:create], redirect [:copy],
//     reject, ereject, vacation [:days] [:subject] [:from] [:addresses]
//     [:handle];
//   - tests: header, address, envelope ("from" and "to"), exists,
//     size :over / :under, allof, anyof, not, true, false;
//   - match types :is, :contains, :matches; comparators "i;ascii-casemap"
//     (the default) and "i;octet"; address parts :all, :localpart,
//     :domain, and :user / :detail with "+" as the separator;
//   - quoted strings, text: strings, string lists, numbers with K, M, G,
//     and both kinds of comment.
//
// Refused, with an error at the line that uses them: every other extension
// (require "regex", "variables", "body"...: "unsupported extension"), any
// comparator but the two above, vacation :mime, envelope parts other than
// from and to, address tests on fields that hold no addresses, and using an
// extension's command, test or tag without requiring it.
//
// What to watch in a transcript: each delivery lists the tests in the
// order they ran, with their outcome and what matched
// (`line 5: header :contains "List-Id" "maillab" → true (List-Id: "<maillab.lists.test>")`),
// then the actions with the line of the rule that asked for them, then
// whether the implicit keep stands. A message that no rule matched lands
// in INBOX through the implicit keep; fileinto without :copy takes it out
// of INBOX; a vacation that does not reply says why (a list, a bounce, the
// user not in To or Cc).
//
// # Standards
//
// RFC 5228 (Sieve: sections 2 syntax and evaluation, 3 control, 4 actions,
// 5 tests, 8 grammar), RFC 5230 (vacation), RFC 5429 (reject, ereject),
// RFC 5233 (subaddress), RFC 5490 section 3 (fileinto :create), RFC 3894
// (copy), RFC 4790 (comparators), RFC 2047 (encoded words in header tests,
// RFC 5228 section 2.7.2), RFC 3834 (automatic responses).
//
// # Security
//
// Scripts are written by users and messages by anyone on the network, so
// both are bounded: Parse refuses scripts over MaxScriptBytes, nesting over
// MaxNesting and lists over MaxStringList; Run stops after MaxSteps
// comparisons and matcher steps (the :matches matcher is iterative, at
// most len(value) × len(pattern) steps, never exponential), MaxActions
// actions and MaxRedirects redirects, and keeps the message when it
// stops. Nothing in this package touches the disk or the network: mailbox
// names and addresses are checked for syntax only, and the LDA must still
// refuse a mailbox name that would leave the user's maildir.
//
// # Limits
//
// Whole-message and body tests are not supported; header values are
// decoded from UTF-8, US-ASCII and ISO-8859-1 encoded words only (others
// compare as written). "?" in :matches matches one UTF-8 character. The
// i;ascii-casemap comparator folds ASCII letters only (RFC 4790 section
// 9.2). Vacation :days is brought within 1 and 30 days; :seconds
// (RFC 6131) is unknown.
package sieve
