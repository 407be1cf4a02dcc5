/*
 * log.c — `engrave log RUN [--baseline NAME] [--append FILE]` and
 * `engrave log --rebuild FILE [--baseline NAME]`: PERFORMANCE_LOG.md.
 *
 * One entry = one run judged against a baseline by the same rules as
 * `engrave check` (src/analysis/check.c), rendered by src/analysis/
 * perflog.c in the format of Engram's M17 log with run ids for file names.
 * The baseline is --baseline, else the spec's checks.baseline.ref.
 *
 * --rebuild regenerates the whole file from the store: every finished run
 * with load metrics, oldest first; each one's baseline is --baseline, else
 * its spec's baseline ref, else the previous finished run of the same spec
 * (Engram's before/after pairs). The file is written to FILE.tmp and
 * renamed, so a failure never leaves half a log.
 */
#include "cli.h"
#include "engrave/buf.h"
#include "engrave/check.h"
#include "engrave/compare.h"
#include "engrave/perflog.h"
#include "engrave/verdict.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/target.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int has_metric(const struct run_record *r, const char *k)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (!strcmp(r->metrics[i].key, k))
			return 1;
	return 0;
}

/* Render run's entry against `bname` (NULL: spec ref, "" none) or base. */
static int render(struct store *st, const struct run_record *run, const struct run_record *base_in,
		  const char *bname, int missing_ok, struct buf *out, int *pass, struct err *e)
{
	struct spec *sp = NULL;
	struct run_record base;
	int have_base = 0, rc = -1;
	struct check_result cr;
	memset(&cr, 0, sizeof(cr));
	struct verdict_set vs;
	memset(&vs, 0, sizeof(vs));
	if (run->spec_text && target_spec_load_stored(run->spec_text, strlen(run->spec_text), run->id, &sp, NULL))
		sp = NULL;
	if (!base_in && !bname && sp && sp->baseline.present && sp->baseline.ref)
		bname = sp->baseline.ref;
	if (!base_in && bname && *bname) {
		struct err be = ERR_INIT;
		if (compare_find_baseline(st, bname, &base, &be)) {
			if (!missing_ok || be.cls != ERR_MISSING) {
				if (e)
					*e = be;
				goto out;
			}
		} else {
			have_base = 1;
			base_in = &base;
		}
	}
	if (base_in && !strcmp(base_in->id, run->id))
		base_in = NULL; /* the baseline run itself */
	struct perflog_entry en;
	struct verdict_opts vo;
	verdict_opts_default(&vo);
	vo.all_metrics = 1;
	if (check_run(st, run, sp, base_in, &vo, &cr, e) ||
	    (base_in && verdict_pair(st, base_in, run, sp, &vo, &vs, e)))
		goto out;
	perflog_fill(&en, run, base_in, &cr, base_in ? &vs : NULL);
	if (perflog_entry(&en, out, e))
		goto out;
	*pass = en.missing && en.pass ? -1 : en.pass; /* 1 pass, 0 fail, -1 no verdict */
	rc = 0;
out:
	check_result_release(&cr);
	verdict_set_release(&vs);
	if (have_base)
		run_record_release(&base);
	spec_free(sp);
	return rc;
}

struct rebuild {
	struct store *st;
	const char *bname;
	struct buf *out;
	size_t n, passed, missing;
	/* previous finished run per spec: a small list */
	struct prev {
		char spec[128];
		char id[48];
	} prev[256];
	int n_prev;
	struct err *e;
	int failed;
};

static int rebuild_one(const struct run_record *r, void *vctx)
{
	struct rebuild *b = vctx;
	if (strcmp(r->status, "done") || !has_metric(r, "p99_ms"))
		return 0;
	int slot = -1;
	for (int i = 0; i < b->n_prev; i++)
		if (!strcmp(b->prev[i].spec, r->spec_name))
			slot = i;
	struct run_record prev;
	int have_prev = 0;
	const char *bname = b->bname;
	struct spec *sp = NULL;
	int spec_ref = 0;
	if (!bname && r->spec_text && !target_spec_load_stored(r->spec_text, strlen(r->spec_text), r->id, &sp, NULL))
		spec_ref = sp->baseline.present && sp->baseline.ref;
	spec_free(sp);
	if (!bname && !spec_ref && slot >= 0 && !run_get(b->st, b->prev[slot].id, &prev, NULL))
		have_prev = 1;
	int pass = 0;
	if (render(b->st, r, have_prev ? &prev : NULL, bname ? bname : (spec_ref ? NULL : ""), 1, b->out, &pass, b->e)) {
		b->failed = 1;
		if (have_prev)
			run_record_release(&prev);
		return 1;
	}
	if (have_prev)
		run_record_release(&prev);
	b->n++;
	b->passed += pass == 1;
	b->missing += pass < 0;
	if (slot < 0 && b->n_prev < 256)
		slot = b->n_prev++;
	if (slot >= 0) {
		snprintf(b->prev[slot].spec, sizeof(b->prev[slot].spec), "%s", r->spec_name);
		snprintf(b->prev[slot].id, sizeof(b->prev[slot].id), "%s", r->id);
	}
	return 0;
}

static int write_file(const char *path, const struct buf *b, const char *mode, struct err *e)
{
	FILE *f = fopen(path, mode);
	if (!f)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s'", path);
	size_t len = b->len;
	int bad = (len && fwrite(b->data, 1, len, f) != len);
	bad |= fclose(f) != 0;
	if (bad)
		return err_set_errno(e, ERR_IO, errno, "cannot write '%s'", path);
	return 0;
}

int cmd_log(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *bname = NULL, *append = NULL, *rebuild = NULL;
	static const struct cli_help help = {
		"log", "engrave log RUN [--baseline NAME] [--append FILE]\nengrave log --rebuild FILE [--baseline NAME]",
		"Write a PERFORMANCE_LOG.md entry for a run (Before/After P50/P95/P99/throughput, change, status).",
		"The entry follows Engram's M17 PERFORMANCE_LOG.md format, with run ids where that\n"
		"format names result files. The status is the verdict of 'engrave check' against the\n"
		"baseline (--baseline, else the spec's checks.baseline.ref; none: absolute checks).\n"
		"Without --append the entry goes to stdout. --rebuild FILE regenerates the whole log\n"
		"from the store: every finished run, oldest first, each against --baseline, its spec's\n"
		"baseline, or the previous finished run of the same spec.\n\n"
		"exit codes: 0 written, 3 missing run or baseline, 4 cannot write FILE",
	};
	const struct cli_opt opts[] = {
		{ "baseline", 'b', OPT_STRING, &bname, "NAME", "baseline ref (baseline/NAME) for Before" },
		{ "append", 'a', OPT_STRING, &append, "FILE", "append the entry to FILE (created with a header)" },
		{ "rebuild", 0, OPT_STRING, &rebuild, "FILE", "regenerate the whole log FILE from the store" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (rebuild ? argc != pos : argc - pos != 1)
		return cli_usage_error(&help, rebuild ? "--rebuild takes no RUN" : "expected one RUN");
	if (rebuild && append)
		return cli_usage_error(&help, "--rebuild and --append do not mix");
	if ((rc = cli_setup(ctx, rebuild ? 0 : 1, &argv[pos])))
		return rc;
	struct err e = ERR_INIT;
	struct store *st = ctx->store;
	struct buf out;
	buf_init(&out, 0);
	rc = -1;
	if (rebuild) {
		static struct rebuild b;
		memset(&b, 0, sizeof(b));
		b.st = st;
		b.bname = bname;
		b.out = &out;
		b.e = &e;
		if (perflog_header(&out, &e) || run_list(st, rebuild_one, &b, &e) < 0 || b.failed ||
		    perflog_summary(b.n, b.passed, b.missing, &out, &e))
			goto out;
		char tmp[4200];
		snprintf(tmp, sizeof(tmp), "%s.tmp", rebuild);
		if (write_file(tmp, &out, "w", &e))
			goto out;
		if (rename(tmp, rebuild)) {
			err_set_errno(&e, ERR_IO, errno, "cannot rename '%s' to '%s'", tmp, rebuild);
			remove(tmp);
			goto out;
		}
		printf("wrote %s: %zu entries (%zu pass, %zu fail, %zu missing data)\n", rebuild, b.n, b.passed,
		       b.n - b.passed - b.missing, b.missing);
		rc = 0;
		goto out;
	}
	const struct run_record *run = &ctx->run[0];
	int pass;
	if (append) {
		struct stat sb;
		if (stat(append, &sb) && perflog_header(&out, &e))
			goto out;
	}
	if (render(st, run, NULL, bname, 0, &out, &pass, &e))
		goto out;
	if (append) {
		if (write_file(append, &out, "a", &e))
			goto out;
		printf("appended the entry for run %s to %s (%s)\n", run->id, append,
		       pass > 0 ? "pass" : pass < 0 ? "MISSING DATA: no verdict" : "FAIL");
	} else {
		fputs(out.data ? out.data : "", stdout);
	}
	rc = 0;
out:
	if (rc < 0)
		rc = cli_fail(&e);
	buf_release(&out);
	return rc;
}
