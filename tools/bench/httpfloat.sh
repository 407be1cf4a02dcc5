#!/usr/bin/env bash
# tools/bench/httpfloat.sh — net-layer micro-benchmarks (numbers, no pass/fail):
#   1. float32 -> JSON text and back for one 768-vector: jsonf vs "%.9g"/strtof
#      vs jansson (the figures quoted in src/net/jsonf.c);
#   2. engine_poll deadline accuracy: lateness of 2000 idle polls and of polls
#      with 64 requests in flight against faultd (the open-loop scheduler's
#      timer resolution);
#   3. engine throughput against faultd (keep-alive, 32 in flight, 2 s).
# Builds a small C driver against $BUILD/libengrave.a into a temp dir.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
tmp=$(mktemp -d)
fpid=
trap '[ -n "$fpid" ] && kill $fpid 2>/dev/null; rm -rf "$tmp"' EXIT
[ -f "$BUILD/libengrave.a" ] && [ -x "$BUILD/tools/faultd" ] || { echo "build first: make BUILD=$BUILD"; exit 1; }

cat >"$tmp/b.c" <<'C'
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engrave/buf.h"
#include "engrave/clock.h"
#include "engrave/engine.h"
#include "engrave/http.h"
#include "engrave/jsonf.h"

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static long done_count;
static void on_done(void *u, const struct http_response *rs, mono_ns s, mono_ns d)
{
	(void)u, (void)s, (void)d;
	if (rs->status >= 200 && rs->status < 300)
		done_count++;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 0;
	enum { D = 768, R = 3000 };
	float v[D], back[D];
	uint64_t s = 88172645463325252ULL;
	for (int i = 0; i < D; i++) {
		s ^= s << 13; s ^= s >> 7; s ^= s << 17;
		v[i] = (float)((double)(int64_t)s / 9.3e18);
	}
	struct buf b;
	buf_init(&b, 0);
	mono_ns t0 = clock_mono_now();
	for (int r = 0; r < R; r++) { buf_reset(&b); jsonf_write_f32_array(&b, v, D); }
	double enc = (double)(clock_mono_now() - t0) / R / 1e3;
	size_t n, bytes = b.len;
	t0 = clock_mono_now();
	for (int r = 0; r < R; r++) jsonf_parse_f32_array(b.data, b.len, back, D, &n, NULL);
	double dec = (double)(clock_mono_now() - t0) / R / 1e3;
	int exact = !memcmp(v, back, sizeof(v));
	printf("jsonf      768 floats: %6zu B  encode %6.1f us  decode %6.1f us  exact=%d\n", bytes, enc, dec, exact);

	char tmp[32];
	t0 = clock_mono_now();
	for (int r = 0; r < R; r++) {
		buf_reset(&b); buf_append(&b, "[", 1, NULL);
		for (int i = 0; i < D; i++) { int k = snprintf(tmp, sizeof tmp, i ? ",%.9g" : "%.9g", v[i]); buf_append(&b, tmp, (size_t)k, NULL); }
		buf_append(&b, "]", 1, NULL);
	}
	enc = (double)(clock_mono_now() - t0) / R / 1e3;
	t0 = clock_mono_now();
	for (int r = 0; r < R; r++) { char *p = b.data + 1; for (int i = 0; i < D; i++) { back[i] = strtof(p, &p); p++; } }
	dec = (double)(clock_mono_now() - t0) / R / 1e3;
	printf("%%.9g/strtof 768 floats: %6zu B  encode %6.1f us  decode %6.1f us\n", b.len, enc, dec);

	t0 = clock_mono_now();
	char *js = NULL;
	for (int r = 0; r < R / 10; r++) {
		json_t *a = json_array();
		for (int i = 0; i < D; i++) json_array_append_new(a, json_real(v[i]));
		free(js);
		js = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(9));
		json_decref(a);
	}
	enc = (double)(clock_mono_now() - t0) / (R / 10) / 1e3;
	t0 = clock_mono_now();
	for (int r = 0; r < R / 10; r++) { json_t *a = json_loads(js, 0, NULL); json_decref(a); }
	dec = (double)(clock_mono_now() - t0) / (R / 10) / 1e3;
	printf("jansson    768 floats: %6zu B  encode %6.1f us  decode %6.1f us\n", strlen(js), enc, dec);
	free(js);
	buf_release(&b);
	if (!port) return 0;

	struct engine *en;
	struct engine_opts o = { .max_connections = 64, .max_in_flight = 256 };
	engine_new(&o, &en, NULL);
	enum { P = 2000 };
	static uint64_t late[P];
	for (int i = 0; i < P; i++) {
		mono_ns dl = clock_mono_now() + 500 * NS_PER_US;
		engine_poll(en, dl, NULL);
		late[i] = clock_mono_now() - dl;
	}
	qsort(late, P, sizeof(*late), cmp);
	printf("engine_poll idle deadline lateness: p50 %.1f us  p99 %.1f us  max %.1f us\n",
	       late[P / 2] / 1e3, late[P * 99 / 100] / 1e3, late[P - 1] / 1e3);

	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", port);
	struct http_request rq = { .url = url };
	for (int i = 0; i < 64; i++) engine_submit(en, &rq, on_done, NULL, NULL);
	int k = 0;
	for (int i = 0; i < P; i++) {
		mono_ns dl = clock_mono_now() + 500 * NS_PER_US;
		while (engine_poll(en, dl, NULL) > 0) ;
		late[k++] = clock_mono_now() - dl;
		while (engine_in_flight(en) < 64) engine_submit(en, &rq, on_done, NULL, NULL);
	}
	qsort(late, (size_t)k, sizeof(*late), cmp);
	printf("engine_poll busy deadline lateness (64 in flight): p50 %.1f us  p99 %.1f us  max %.1f us\n",
	       late[k / 2] / 1e3, late[k * 99 / 100] / 1e3, late[k - 1] / 1e3);
	engine_drain(en, NULL);

	/* no server delay for the throughput run */
	struct http_client *hc;
	struct http_response hr;
	http_client_new(&hc, NULL);
	http_response_init(&hr);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/_faultd/config", port);
	struct http_request cfg = { .method = "POST", .url = url, .body = "{\"delay_us\":0}", .body_len = 14 };
	http_do(hc, &cfg, &hr, NULL);
	http_response_release(&hr);
	http_client_free(hc);
	done_count = 0;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/fast", port);
	mono_ns end = clock_mono_now() + 2 * NS_PER_S;
	t0 = clock_mono_now();
	while (clock_mono_now() < end) {
		while (engine_in_flight(en) < 32) engine_submit(en, &rq, on_done, NULL, NULL);
		engine_poll(en, end, NULL);
	}
	engine_drain(en, NULL);
	printf("engine throughput vs faultd (32 in flight, keep-alive): %.0f req/s\n",
	       (double)done_count / ((double)(clock_mono_now() - t0) / 1e9));
	engine_free(en);
	return 0;
}
C
cd "$root"
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude $(pkg-config --cflags libcurl jansson) "$tmp/b.c" "$BUILD/libengrave.a" \
	$(make -s --no-print-directory -C "$root" print-link) -o "$tmp/b"
"$BUILD/tools/faultd" --port 0 --port-file "$tmp/port" --delay-us 2000 --quiet &
fpid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
"$tmp/b" "$(cat "$tmp/port")"
