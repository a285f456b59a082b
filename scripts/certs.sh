#!/bin/sh
# certs.sh: a private CA and node/client certificates for the cluster's TLS
# listeners and bridge links (docs/ADMIN.md, "Cluster: TLS").
#   certs.sh DIR NAME [SAN ...]
# Makes DIR/ca.crt + DIR/ca.key on first use (RSA 3072, 10 years), then
# DIR/NAME.crt + DIR/NAME.key signed by it (RSA 2048, 825 days), usable as
# server and as client certificate. Each SAN is DNS:name or IP:address;
# without any, NAME, localhost and 127.0.0.1 are used. An existing NAME.crt
# is kept (delete it to renew). Keys are mode 0600, certificates 0644; the
# brokers must be able to read the keys (stack.sh makes them the mosquitto
# user's when it runs the brokers as that user).
set -eu

[ $# -ge 2 ] || { echo "usage: $0 DIR NAME [DNS:x|IP:y ...]" >&2; exit 2; }
dir=$1
name=$2
shift 2
case $name in
	*[!a-zA-Z0-9_.-]*|'') echo "certs: bad name '$name'" >&2; exit 2 ;;
esac
mkdir -p "$dir"
umask 077

if [ ! -s "$dir/ca.crt" ]; then
	openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 \
		-subj "/CN=mqtt-chat cluster CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
	chmod 644 "$dir/ca.crt"
	echo "certs: made CA $dir/ca.crt"
fi

[ ! -s "$dir/$name.crt" ] || exit 0

san=""
if [ $# -eq 0 ]; then
	set -- "DNS:$name" DNS:localhost IP:127.0.0.1
fi
for s in "$@"; do
	case $s in
		DNS:*|IP:*) ;;
		*) echo "certs: SAN '$s' must start with DNS: or IP:" >&2; exit 2 ;;
	esac
	san="${san:+$san,}$s"
done

ext="$dir/$name.ext"
cat > "$ext" <<EXT
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
EXT
openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=$name" \
	-keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
	-CAcreateserial -days 825 -sha256 -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
rm -f "$dir/$name.csr" "$ext"
chmod 644 "$dir/$name.crt"
echo "certs: made $dir/$name.crt ($san)"
