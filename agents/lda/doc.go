// Package lda is the lab's local delivery agent: inside the MDA's delivery
// path, it decides for each recipient of a message what happens to it —
// which users an alias stands for, whether a user's mail is forwarded,
// which folder the user's Sieve script files it into, whether it is
// refused, answered by a vacation reply, or does not fit the user's quota.
//
// The MDA (package mda) declares what it needs, mda.Deliverer, and an
// *LDA is one:
//
//	l, _ := lda.New(lda.Config{Store: store, Users: users, Aliases: aliases, Submit: submit})
//	m, _ := mda.New(mda.Config{Name: "mda.b.test", Store: store, Users: addrs, Deliverer: l})
//
// The LDA imports mda for the Delivery type; mda never imports lda.
//
// # What happens to one recipient
//
//  1. An alias expands to its targets, recursively: each local target is
//     delivered as below, each external one is sent on to the MTA with
//     Config.Submit, keeping the original envelope sender (RFC 5321 section
//     3.9). An alias met twice on one path, aliases nested deeper than
//     MaxAliasDepth, or a message that already has "Delivered-To:" the
//     alias, is a loop: that branch fails and the others go on. A user
//     reached twice gets one copy. The recipient fails only when every
//     branch did: with a temporary failure if there was one (a retry
//     duplicates nothing, since nothing was delivered), else with the
//     first permanent one (554 5.4.6 for a loop, 550 5.1.1 for a local
//     target that does not exist). A target is local when its domain is
//     one of the users' or aliases' domains.
//  2. user+detail@domain (RFC 5233) is delivered to user@domain's mailbox;
//     the script sees the address as given, so `envelope :detail "to"
//     "shop"` works; without a rule it lands in INBOX.
//  3. User.Forward sends the message on with Submit (original envelope
//     sender; the MDA's Delivered-To and Received fields go along, its
//     Return-Path does not). With KeepCopy a copy is delivered too, through
//     the script. A message that already has "Delivered-To:" the user is
//     not forwarded again (a loop): it is kept. A forward that fails is
//     kept too.
//  4. The user's Sieve script runs (package sieve) with the envelope
//     sender and the recipient as given, and its actions are carried out:
//     keep and the implicit keep store into INBOX (new/, like the MDA);
//     fileinto stores into the folder (cur/, unseen, through
//     mailbox.Folder.Append) — creating it when it is missing, with or
//     without :create (a lab choice, like Dovecot's
//     lda_mailbox_autocreate; the note says which) — and a name the
//     mailbox package refuses ("../x") goes to INBOX; redirect sends the
//     message on with Submit (a failed redirect keeps it in INBOX, RFC 5228
//     section 2.10.6); discard stores nothing; reject and ereject answer
//     this recipient "550 5.7.1" with the reason and store nothing (RFC
//     5429 section 2.2.1: refusing in LMTP is the right way at delivery
//     time); vacation replies unless sieve.ShouldAutoReply says no (checked
//     with the user's address, User.Addresses and :addresses) or a reply
//     went to that sender under that handle within :days, recorded
//     durably under Config.StateDir. The reply comes from the null sender
//     <> (RFC 5230 section 5.1, RFC 3834 section 3.3) with Auto-Submitted:
//     auto-replied, In-Reply-To and References. A script that fails at run
//     time keeps the message in INBOX (RFC 5228 section 2.10.6).
//  5. Quota: before storing anything, the user's size (all folders: the
//     ",S=" sizes of the file names) plus every copy to store must not
//     exceed User.Quota, else "552 5.2.2 Mailbox full" (or "452 4.2.2" with
//     QuotaTemporary) and nothing is stored, forwarded or answered (RFC
//     3463 X.2.2, RFC 5321 section 4.2.2). A keep forced by a failed
//     redirect is not counted.
//
// # What to watch in the transcript
//
// Before the recipient's LMTP reply, one note per decision:
//
//	team@b.test is an alias: bob@b.test, carol@b.test
//	alias loop: a@b.test → b@b.test → a@b.test, which is already on the way; ...
//	bob@b.test: forwarded to bob@elsewhere.test, MAIL FROM:<alice@a.test> (the original sender)
//	sieve bob@b.test: script bob.sieve for <bob+shop@b.test>
//	sieve bob@b.test: line 3: header :contains "List-Id" "students" → true (List-Id: "...")
//	sieve bob@b.test: line 4: fileinto "Lists" (cancels the implicit keep)
//	sieve bob@b.test: end: no implicit keep: fileinto at line 4 cancelled it
//	sieve bob@b.test: line 4: fileinto "Lists" → stored in Lists as cur/1768....,S=512:2,
//	sieve bob@b.test: line 9: vacation → reply sent to <alice@a.test> from <> ...
//	bob@b.test is over quota: the mailbox holds 9800 octets, the message needs 512 more, the limit is 10000: ...
//
// and the reply says what became of the message:
// "250 2.0.0 <team@b.test> delivered to INBOX as new/...; delivered to INBOX as new/...".
//
// # Durability
//
// A 2yz reply is returned only after every copy is durable (the mailbox
// package syncs before it returns). Submit calls (forward, redirect,
// external alias targets, vacation) happen before the reply: if the
// process dies between a Submit and the 250, the sending MTA tries again
// and the message is sent on twice — a duplicate, never a loss (RFC 5321
// section 6.1 prefers duplicates to losses). The same holds when a store
// fails after a redirect went: the reply is 451 and the retry redirects
// again.
//
// # Standards
//
// RFC 5228 (Sieve), RFC 5230 (vacation), RFC 5233 (subaddress), RFC 5429
// (reject in LMTP), RFC 5490 section 3 (fileinto :create), RFC 3834
// (automatic responses), RFC 2033 (LMTP per-recipient replies), RFC 5321
// sections 3.9 (aliases), 4.4 (trace fields), 6.3 (loops), RFC 3463 (X.2.2,
// X.4.6, X.7.1).
//
// # Security
//
// Addresses come from the network and from the configuration; the mailbox
// package builds every path and refuses addresses and folder names that
// would leave the store or the Maildir. Vacation records are named by a
// hash, never by an address. Scripts are bounded by package sieve.
//
// # Limits
//
// Sieve folder names use "/" between levels, as IMAP LIST shows them.
// The quota reads a folder's cur/ or new/ again only when its time changed
// (about 1 ms per 1,000 messages); there is no maildirsize file. A user
// reached through several aliases of one message gets one copy; an
// external address one submission. Partial failures of an alias (some
// branches delivered) are only notes: no bounce is sent for the others.
package lda
