// Package keystore packages a private key and its certificates into the
// download formats of the Keyfactor enrollment API: password-protected
// PKCS#12 (PFX), a PEM bundle with an encrypted PKCS#8 key, a Java KeyStore
// (JKS) and a ZIP of PEM files.
//
// Scope: pure encoding. The package does no I/O, reads randomness only from
// [Options.Rand] and time only from [Options.Now]; it parses no untrusted
// input (it only encodes values built by the server). Policy checks (which
// key types, friendly names and CSP names are allowed) belong to the caller;
// this package only rejects what it cannot encode correctly.
//
// # PKCS#12
//
// The encoder is our own because no available Go library can set
// friendlyName or the Microsoft CSP attribute on the key bag. Every PFX has
// exactly two safes in its AuthenticatedSafe: first a plain data safe holding
// exactly one pkcs8ShroudedKeyBag, then an encrypted safe holding one
// certBag per certificate: the leaf always first (go-pkcs12's DecodeChain
// takes the first certificate bag as the key's certificate), then the CA
// certificates issuer first for [EndEntityFirst], root first for [RootFirst].
// Clients built on a strict go-pkcs12 fork require the key safe to come first. Two profiles exist:
//
//   - [ProfileModern] (default): key bag and certificate safe with PBES2,
//     PBKDF2-HMAC-SHA256 and AES-256-CBC; MAC HMAC-SHA256 keyed with the
//     PKCS#12 KDF (what "openssl pkcs12 -export -macalg sha256" writes).
//   - [ProfileLegacy]: certificate safe with pbeWithSHAAnd40BitRC2-CBC, key
//     bag with pbeWithSHAAnd3-KeyTripleDES-CBC, MAC HMAC-SHA1. For Windows
//     Server 2016 and older; OpenSSL 3 reads it only with -legacy.
//
// The key bag and the leaf's cert bag carry friendlyName (when
// [Bundle.FriendlyName] is set) and localKeyID (SHA-1 of the leaf's DER);
// the key bag also carries the Microsoft CSP name 1.3.6.1.4.1.311.17.1 when
// [Bundle.CSPName] is set. Bag attributes are DER-sorted.
//
// # PEM
//
// [EncodePEM] writes an "ENCRYPTED PRIVATE KEY" block (PKCS#8
// EncryptedPrivateKeyInfo, PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC) and then
// the CERTIFICATE blocks in [Options.Order], each optionally preceded by a
// "subject=..." line ([SubjectHeader]).
//
// # JKS
//
// [EncodeJKS] writes one PrivateKeyEntry whose alias is [JKSAlias]: the
// friendly name lower-cased (JKS aliases are case-insensitive and keytool
// stores them in lower case), or the leaf's SHA-1 thumbprint in lower-case
// hex when there is no friendly name. The entry's chain is always leaf first
// (Java requires it); [Options.Order] does not apply.
//
// # ZIP
//
// [EncodeZIP] writes, for a base name derived from the friendly name or the
// leaf's common name (see docs/formats.md):
//
//	<name>.crt            the leaf certificate (PEM)
//	<name>-chain.pem      the CA certificates in Options.Order (only when there are any)
//	<name>-fullchain.pem  leaf and CA certificates in Options.Order
//	<name>.key            the encrypted PKCS#8 private key (PEM)
//
// # Passwords
//
// Every format requires a non-empty password ([ErrEmptyPassword]): the
// enrollment layer decides whether to reject an empty one or generate one.
// PKCS#12 passwords and attribute strings must fit UCS-2 (BMPString); JKS
// passwords must be Latin-1 because the JKS library encodes each byte as one
// Java char.
package keystore
