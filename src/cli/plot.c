/*
 * plot.c — `engrave plot RUN... [--baseline NAME] -o FILE.svg` and
 * `engrave plot --history --spec NAME --metric M -o FILE.svg`.
 *
 * The first form draws each run's latency by percentile, HDR style (a log
 * scale of 1/(1-p)), from the stored per-request records (the baseline's
 * line first); the second draws a metric's trend over a spec's runs with
 * the steps history detects marked. The SVG is written by
 * src/analysis/svgplot.c; this file gathers the data and writes the file.
 */
#include "cli.h"
#include "engrave/buf.h"
#include "engrave/compare.h"
#include "engrave/history.h"
#include "engrave/spec.h"
#include "engrave/store.h"
#include "engrave/svgplot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_MAX_SERIES 8

static int write_svg(const char *path, const struct buf *b, struct err *e)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s'", path);
	int bad = fwrite(b->data, 1, b->len, f) != b->len;
	if (f != stdout)
		bad |= fclose(f) != 0;
	if (bad)
		return err_set_errno(e, ERR_IO, errno, "cannot write '%s'", path);
	return 0;
}

static int plot_history(struct store *st, const char *spec, const char *metric, const char *outp, struct err *e)
{
	struct history h;
	struct history_opts o = { 0, 0.05, 0 };
	if (history_collect(st, spec, metric, &o, &h, e))
		return -1;
	int rc = -1;
	struct buf b;
	buf_init(&b, 0);
	if (!h.n) {
		err_set(e, ERR_MISSING, "no finished run of spec '%s' has metric '%s'", spec, metric);
		err_hint(e, "'engrave runs --spec %s' lists its runs", spec);
	} else if (!svgplot_history(spec, metric, &h, &b, e) && !write_svg(outp, &b, e)) {
		rc = 0;
	}
	buf_release(&b);
	history_release(&h);
	return rc;
}

int cmd_plot(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *bname = NULL, *outp = NULL, *spec = NULL, *metric = NULL;
	int history = 0, service = 0;
	static const struct cli_help help = {
		"plot",
		"engrave plot RUN... [--baseline NAME] [--service] -o FILE.svg\n"
		"engrave plot --history --spec NAME --metric M -o FILE.svg",
		"Plot latency by percentile (HDR style) for runs, or a metric's trend over a spec's runs.",
		"The percentile plot reads each run's stored request records: latency from the\n"
		"intended send time (--service: from the actual send), x axis on a log scale of\n"
		"1/(1-p) so 99%, 99.9%, 99.99% are evenly spaced. --history draws the metric over the\n"
		"spec's finished runs and marks the steps 'engrave history' finds. -o - writes to stdout.\n\n"
		"exit codes: 0 written, 2 usage, 3 missing run, baseline or records, 4 cannot write",
	};
	const struct cli_opt opts[] = {
		{ "output", 'o', OPT_STRING, &outp, "FILE", "the SVG file to write (required)" },
		{ "baseline", 'b', OPT_STRING, &bname, "NAME", "also draw this baseline's run" },
		{ "service", 0, OPT_FLAG, &service, NULL, "plot service time (from the actual send)" },
		{ "history", 0, OPT_FLAG, &history, NULL, "plot a metric over a spec's runs" },
		{ "spec", 0, OPT_STRING, &spec, "NAME", "with --history: the spec" },
		{ "metric", 'm', OPT_STRING, &metric, "M", "with --history: the metric" },
		{ NULL, 0, OPT_END, NULL, NULL, NULL },
	};
	int pos, done;
	int rc = cli_parse(argc, argv, &help, opts, &pos, &done);
	if (rc || done)
		return rc;
	if (!outp)
		return cli_usage_error(&help, "-o FILE.svg is required");
	if (history && (!spec || !metric || argc != pos))
		return cli_usage_error(&help, "--history needs --spec and --metric and no RUN");
	if (!history && (argc == pos || argc - pos + (bname != NULL) > PLOT_MAX_SERIES))
		return cli_usage_error(&help, "expected 1 to %d runs", PLOT_MAX_SERIES);
	if ((rc = cli_setup(ctx, 0, NULL)))
		return rc;
	struct err e = ERR_INIT;
	struct store *st = ctx->store;
	if (history) {
		rc = plot_history(st, spec, metric, outp, &e) ? cli_fail(&e) : 0;
		if (!rc && strcmp(outp, "-"))
			printf("wrote %s\n", outp);
		return rc;
	}
	struct run_record runs[PLOT_MAX_SERIES];
	double *vals[PLOT_MAX_SERIES] = { 0 };
	struct svgplot_series ser[PLOT_MAX_SERIES];
	char labels[PLOT_MAX_SERIES][160];
	int n = 0;
	struct buf b;
	buf_init(&b, 0);
	rc = -1;
	for (int i = -1; i < argc - pos; i++) {
		if (i < 0 && !bname)
			continue;
		int bad = i < 0 ? compare_find_baseline(st, bname, &runs[n], &e) : compare_find_run(st, argv[pos + i], &runs[n], &e);
		if (bad)
			goto out;
		n++;
		struct compare_recs *c = NULL;
		size_t cnt = 0;
		if (compare_recs_load(st, &runs[n - 1], &c, &e) ||
		    compare_recs_values(c, service ? "service_max_ms" : "max_ms", &vals[n - 1], &cnt, &e)) {
			compare_recs_free(c);
			goto out;
		}
		compare_recs_free(c);
		if (i < 0)
			snprintf(labels[n - 1], sizeof(labels[0]), "baseline %s: %s", bname, runs[n - 1].id);
		else
			snprintf(labels[n - 1], sizeof(labels[0]), "%s (%s)", runs[n - 1].id, runs[n - 1].spec_name);
		ser[n - 1] = (struct svgplot_series){ labels[n - 1], vals[n - 1], cnt };
	}
	/* the title names the run being plotted (the first RUN), never the baseline */
	const struct run_record *subject = &runs[bname ? 1 : 0];
	char title[256];
	snprintf(title, sizeof(title), "%s by percentile: %s, run %s", service ? "service time" : "latency",
		 subject->spec_name, subject->id);
	if (svgplot_percentiles(title, ser, (size_t)n, &b, &e) || write_svg(outp, &b, &e))
		goto out;
	if (strcmp(outp, "-"))
		printf("wrote %s (%d run%s)\n", outp, n, n == 1 ? "" : "s");
	rc = 0;
out:
	if (rc < 0)
		rc = cli_fail(&e);
	for (int i = 0; i < n; i++) {
		free(vals[i]);
		run_record_release(&runs[i]);
	}
	buf_release(&b);
	return rc;
}
