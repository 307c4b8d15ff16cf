#!/usr/bin/env bash
# slapd.sh starts a throwaway OpenLDAP server with certdock's directory test
# fixtures, for the tests of internal/directory.
#
#   env_lines=$(bash .ci/slapd.sh) || exit 1
#   eval "$env_lines"
#   go test ./internal/directory/...
#
# It installs Debian's slapd and ldap-utils when they are missing, kills the
# instance a previous run left (by the pid in its own pid file), rebuilds the
# database from scratch, starts slapd as root on 127.0.0.1 (plain LDAP with
# StartTLS on 3389, LDAPS on 3636, a CA made here) and waits until ldapsearch
# answers. Running it twice is fine. Progress goes to stderr; stdout carries
# only the `export CERTDOCK_TEST_LDAP_...=...` lines the tests read.
#
# `bash .ci/slapd.sh stop` only stops the instance and removes its directory.
#
# Overrides: CERTDOCK_SLAPD_DIR (default /tmp/certdock-slapd),
# CERTDOCK_SLAPD_PORT (3389), CERTDOCK_SLAPD_TLS_PORT (3636).
set -euo pipefail

DIR=${CERTDOCK_SLAPD_DIR:-/tmp/certdock-slapd}
PORT=${CERTDOCK_SLAPD_PORT:-3389}
TLS_PORT=${CERTDOCK_SLAPD_TLS_PORT:-3636}
SUFFIX="dc=example,dc=com"
ROOT_DN="cn=admin,$SUFFIX" # for poking at the data by hand with ldapmodify
ROOT_PW="certdock-admin"
BIND_DN="cn=certdock,ou=Services,$SUFFIX"
BIND_PW="certdock-test"

log() { echo "slapd.sh: $*" >&2; }

case "$DIR" in
/tmp/?*) ;;
*)
	log "CERTDOCK_SLAPD_DIR must be a directory under /tmp (it is deleted and recreated): $DIR"
	exit 1
	;;
esac

# Stop the instance a previous run started: only the pid our pid file names,
# and only if that process is a slapd.
if [ -f "$DIR/slapd.pid" ]; then
	old=$(cat "$DIR/slapd.pid" 2>/dev/null || true)
	if [ -n "$old" ] && [ -r "/proc/$old/comm" ] && [ "$(cat "/proc/$old/comm")" = slapd ]; then
		log "stopping old slapd (pid $old)"
		kill "$old" 2>/dev/null || true
		for _ in $(seq 50); do
			[ -e "/proc/$old" ] || break
			sleep 0.1
		done
		if [ -e "/proc/$old" ]; then
			kill -9 "$old" 2>/dev/null || true
			sleep 0.2
		fi
	fi
fi

rm -rf "$DIR"
if [ "${1:-}" = stop ]; then
	exit 0
fi

# Install only what is missing (apt-get install of an installed package would
# upgrade it). slapd/no_configuration stops the package from creating and
# starting the system-wide instance on port 389; this script needs none.
missing=()
[ -x /usr/sbin/slapd ] || missing+=(slapd)
command -v ldapsearch >/dev/null || missing+=(ldap-utils)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
SLAPD=/usr/sbin/slapd
SLAPADD=/usr/sbin/slapadd
SLAPPASSWD=/usr/sbin/slappasswd

mkdir -p "$DIR/db"
chmod 700 "$DIR"

# A CA and a server certificate for 127.0.0.1 / localhost, for LDAPS and StartTLS.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=certdock slapd test CA" \
	-keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
	-keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$DIR/server.ext"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
	-days 30 -extfile "$DIR/server.ext" -out "$DIR/server.pem" 2>/dev/null

root_hash=$("$SLAPPASSWD" -s "$ROOT_PW")
bind_hash=$("$SLAPPASSWD" -s "$BIND_PW")

cat >"$DIR/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema

pidfile  $DIR/slapd.pid
argsfile $DIR/slapd.args

TLSCACertificateFile $DIR/ca.pem
TLSCertificateFile   $DIR/server.pem
TLSCertificateKeyFile $DIR/server.key

modulepath /usr/lib/ldap
moduleload back_mdb

database  mdb
maxsize   10485760
suffix    "$SUFFIX"
rootdn    "$ROOT_DN"
rootpw    $root_hash
directory $DIR/db
index     objectClass eq
index     uid,cn,mail eq

# Like Active Directory: anonymous clients may only bind.
access to attrs=userPassword
	by anonymous auth
	by * none
access to *
	by users read
	by anonymous auth
CONF

# extensibleObject lets the fixtures carry c and st where inetOrgPerson and
# device do not allow them, as AD user and computer objects do.
cat >"$DIR/fixtures.ldif" <<LDIF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=People,$SUFFIX
objectClass: organizationalUnit
ou: People

dn: ou=Hosts,$SUFFIX
objectClass: organizationalUnit
ou: Hosts

dn: ou=Services,$SUFFIX
objectClass: organizationalUnit
ou: Services

dn: $BIND_DN
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: certdock
userPassword: $bind_hash

dn: uid=alice,ou=People,$SUFFIX
objectClass: inetOrgPerson
objectClass: extensibleObject
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
o: Example Corp
ou: Engineering
l: Springfield
st: Illinois
c: US

dn: uid=bob,ou=People,$SUFFIX
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
o: Example Corp

dn: uid=carol,ou=People,$SUFFIX
objectClass: inetOrgPerson
uid: carol
cn: Carol Danvers
sn: Danvers
departmentNumber: Flight Ops
l: Boston

dn: uid=ssmith1,ou=People,$SUFFIX
objectClass: inetOrgPerson
uid: ssmith1
cn: Sam Smith
sn: Smith
o: Example Corp

dn: uid=ssmith2,ou=People,$SUFFIX
objectClass: inetOrgPerson
uid: ssmith2
cn: Sam Smith
sn: Smith
o: Example Corp

dn: cn=web01,ou=Hosts,$SUFFIX
objectClass: device
objectClass: extensibleObject
cn: web01
o: Example Corp
ou: Web
l: Berlin
st: Berlin
c: DE

dn: cn=db01.example.com,ou=Hosts,$SUFFIX
objectClass: device
objectClass: extensibleObject
cn: db01.example.com
o: Example Corp
ou: Databases
l: Paris
c: FR
LDIF

"$SLAPADD" -q -f "$DIR/slapd.conf" -l "$DIR/fixtures.ldif" >&2

"$SLAPD" -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$PORT/ ldaps://127.0.0.1:$TLS_PORT/" >&2 || {
	log "slapd did not start; run '$SLAPD -d 1 -f $DIR/slapd.conf -h ldap://127.0.0.1:$PORT/' to see why"
	exit 1
}

ready=
for _ in $(seq 100); do
	if ldapsearch -x -LLL -o nettimeout=2 -H "ldap://127.0.0.1:$PORT" -D "$BIND_DN" -w "$BIND_PW" \
		-b "uid=alice,ou=People,$SUFFIX" -s base dn >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ -z "$ready" ]; then
	log "slapd does not answer on 127.0.0.1:$PORT"
	exit 1
fi
log "slapd (pid $(cat "$DIR/slapd.pid")) answers on ldap://127.0.0.1:$PORT and ldaps://127.0.0.1:$TLS_PORT"

cat <<ENV
export CERTDOCK_TEST_LDAP_URL=ldap://127.0.0.1:$PORT
export CERTDOCK_TEST_LDAPS_URL=ldaps://127.0.0.1:$TLS_PORT
export CERTDOCK_TEST_LDAP_CA_FILE=$DIR/ca.pem
export CERTDOCK_TEST_LDAP_BIND_DN='$BIND_DN'
export CERTDOCK_TEST_LDAP_BIND_PASSWORD='$BIND_PW'
export CERTDOCK_TEST_LDAP_BASE_DN='$SUFFIX'
ENV
