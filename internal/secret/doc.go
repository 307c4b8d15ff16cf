// Package secret keeps certdock's secrets at rest: the master key file,
// envelope encryption of everything secret stored in the database, password
// hashing for local identities, and random password generation.
//
// # Master key
//
// The master key is 32 random bytes in a file outside the database (by
// default next to it in the data directory; operators may move it to a
// separate volume or secret mount). [LoadOrCreate] reads it, or creates it
// when it does not exist. The file must be a regular file of exactly 32 bytes
// with no permission bits for group or others (0600 or stricter); anything
// else is refused with an error that says what to fix, because a key that
// other users can read protects nothing, and a truncated key would silently
// seal new secrets under a different key.
//
// A new key file is written to a temporary file in the same directory
// (created 0600), fsynced, then hard-linked to its final name, which fails if
// the name exists. So a crash never leaves a half-written key, and two
// processes starting at once on the same directory agree on one key instead
// of the later rename clobbering the key the first has already used. Only on
// file systems without hard links does it fall back to rename. The directory
// is fsynced afterwards.
//
// Losing the master key file makes every sealed secret unreadable: CA private
// keys, retained private keys and store passwords. Back it up separately from
// the database; a database backup alone cannot be decrypted, which is the
// point.
//
// # Envelope encryption
//
// [Keyring.Seal] encrypts each secret with a fresh random 256-bit data key
// using AES-256-GCM, and wraps that data key with the master key, also
// AES-256-GCM. The caller's associated data ("aad", for example "ca-key:3" or
// "retained-key:cert:42") names the row the secret belongs to and is
// authenticated by both layers, so a ciphertext copied into another row does
// not open there. The blob is self-describing (version 1):
//
//	offset  size  field
//	0       1     version (1)
//	1       8     key id: first 8 bytes of SHA-256(master key)
//	9       12    wrap nonce
//	21      48    wrapped data key (32-byte key + 16-byte GCM tag)
//	69      12    data nonce
//	81      n+16  ciphertext of the n-byte plaintext, with GCM tag
//
// The header (version and key id) is authenticated too. The key id lets a
// future keyring hold several master keys during rotation and tells an
// operator "sealed under a different master key" apart from corruption; it is
// a truncated hash of a 256-bit random key, so it reveals nothing usable.
// Fresh data keys mean a GCM nonce is never reused under one key, and that
// the master key only ever encrypts 32-byte keys.
//
// [Keyring.Open] returns an error wrapping [ErrDecrypt] for every failure:
// unknown version, other key id, wrong aad, truncation or tampering. It never
// panics, and refuses blobs larger than [MaxSealedSize] before doing any work.
//
// # Passwords
//
// [HashPassword] stores local identities' passwords as argon2id in the PHC
// string format. See [HashPassword] for the chosen parameters and what they
// cost. [RandomPassword] makes generated admin and enrollment passwords from
// an alphabet without look-alike characters.
package secret
