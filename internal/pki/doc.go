// Package pki holds pure X.509 helpers for certdock: Keyfactor-style subject
// strings (parse, format, encode in the order given), subject alternative
// names from the enrollment request's SANs map (including the Microsoft UPN
// otherName that crypto/x509 cannot encode), thumbprints and serial numbers in
// the form the Keyfactor API reports them, subject key identifiers, and bounded
// decoding of PEM/base64 certificates and CSRs.
//
// Scope and edges:
//   - No I/O, no clock, no randomness: every function is a pure transformation
//     of its arguments.
//   - Everything that reads client input caps its size first and returns an
//     *InputError naming the request field ("Subject", "SANs.dns", "CSR"), so
//     the transport can turn it into a 400 with a useful message.
//   - DN strings follow RFC 4514 ordering: the most specific RDN (usually CN)
//     comes first in the string and last in the DER SEQUENCE. A subject parsed
//     with ParseDN, encoded with DN.Marshal, and read back with IssuedDN gives
//     the same string, so the issued certificate's IssuedDN matches the
//     request's Subject.
package pki
