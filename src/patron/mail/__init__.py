"""The email channel: inbound (IMAP poll, SMTP/LMTP listener, pipe), parsing, threading, outbound."""
