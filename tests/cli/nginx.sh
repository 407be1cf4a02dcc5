# tests/cli/nginx.sh — a real nginx serving the Bazel HTTP cache protocol
# (WebDAV PUT) on 127.0.0.1, for the remote-store tests (sourced).
#
#   nginx_start        starts it in $TMPDIR/nginx; sets NGINX_URL (open,
#                      prefix /cache) and NGINX_AUTH_URL (basic auth
#                      user "engrave", password "s3cret", prefix /secure);
#                      returns 1 (after a SKIP line) when nginx is absent;
#                      NGINX_SLOW_URL (prefix /slow) answers 20 requests a
#                      second, queueing the rest (limit_req): a push there is
#                      slow enough to be killed half-way
#   nginx_puts [P]     how many PUTs to P/cas/ (default /cache) the access log holds
#   nginx_stop         stops it (also on EXIT when the caller traps it)
# Files land in $NGINX_ROOT/cache/{cas,ac}/. The config is generated: pid,
# logs and temp paths in the test's directory, so no root is needed.
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
nginx_start() {
	[ -x "$NGINX_BIN" ] || { skip "remote tests" "nginx not installed (tools/install-deps.sh)"; return 1; }
	local d="$TMPDIR/nginx" port
	port=$(free_port)
	mkdir -p "$d/www/cache" "$d/www/secure" "$d/tmp"
	NGINX_ROOT="$d/www"
	printf 'engrave:{PLAIN}s3cret\n' >"$d/htpasswd"
	local user=""
	[ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"
	cat >"$d/nginx.conf" <<CONF
$user
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
	log_format engrave '\$request_method \$uri \$status';
	access_log $d/access.log engrave;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	client_max_body_size 0;
	limit_req_zone \$server_name zone=slow:1m rate=20r/s;
	server {
		listen 127.0.0.1:$port;
		root $d/www;
		location /cache/ { dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw; }
		location /slow/ {
			limit_req zone=slow burst=100000;
			dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw;
		}
		location /secure/ {
			auth_basic "engrave";
			auth_basic_user_file $d/htpasswd;
			dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw;
		}
	}
}
CONF
	"$NGINX_BIN" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$d/stdout" 2>&1 &
	NGINX_PID=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.05
	done
	NGINX_URL="http://127.0.0.1:$port/cache"
	NGINX_AUTH_URL="http://127.0.0.1:$port/secure"
	NGINX_SLOW_URL="http://127.0.0.1:$port/slow"
	NGINX_LOG="$d/access.log"
	curl -s -o /dev/null "http://127.0.0.1:$port/" || { fail "nginx starts" "$(tail -3 "$d/error.log" "$d/stdout")"; return 1; }
}
nginx_puts() { grep -c "^PUT ${1:-/cache}/cas/" "$NGINX_LOG" 2>/dev/null || true; }
nginx_stop() { [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; NGINX_PID=""; }
